/**
 * Completion in the filter box: the word under the cursor is matched against the filter
 * language's fields (run columns, params.<key>, outputs.<key>, metrics.<name>[.last|.min|.max|
 * .count|.last_step]) and keywords. Names with characters the language cannot read bare are
 * quoted with backticks, as the language wants: metrics.`val acc`.max.
 */
import type { JsonDict } from "./api";
import { paramKeys } from "./compare";

export const RUN_FIELDS = [
  "status", "name", "uuid", "project", "user", "host", "description", "git_commit",
  "created_at", "started_at", "finished_at", "duration", "tags",
];
export const METRIC_ATTRS = ["last", "min", "max", "count", "last_step"];
export const KEYWORDS = ["and", "or", "not", "in", "is", "null", "like", "contains", "true", "false"];

export interface Names {
  params: string[];
  outputs: string[];
  metrics: string[];
}

export interface Completion {
  from: number;
  to: number;
  items: string[];
}

/** A name as the filter language reads it: bare when it can be, else in backticks. */
export function quoteName(name: string): string {
  return /^[A-Za-z_][\w/-]*$/.test(name) ? name : `\`${name}\``;
}

/** A param's or output's name: a dotted one by its parts (`params.optimizer.name`: the param of that
 * name, or else a leaf of a nested param, as the server reads either form). */
export function quoteParam(name: string): string {
  const parts = name.split(".");
  return parts.every((p) => p !== "") ? parts.map(quoteName).join(".") : quoteName(name);
}

/** Every field the names allow, in the order they are offered. */
export function allFields(names: Names): string[] {
  const fields = [...RUN_FIELDS];
  names.params.forEach((k) => fields.push(`params.${quoteParam(k)}`));
  names.outputs.forEach((k) => fields.push(`outputs.${quoteParam(k)}`));
  names.metrics.forEach((k) => {
    const q = quoteName(k);
    fields.push(`metrics.${q}`);
    METRIC_ATTRS.forEach((a) => fields.push(`metrics.${q}.${a}`));
  });
  return fields;
}

const WORD = /[\w./`-]/;

/**
 * Completions for the word that ends at `cursor` in `text` (at most `limit`): prefix matches
 * first, then matches anywhere in the field. Inside a quoted string there is nothing to offer.
 */
export function complete(text: string, cursor: number, names: Names, limit = 12): Completion {
  const before = text.slice(0, cursor);
  const quotes = (before.match(/'/g)?.length ?? 0) + (before.match(/"/g)?.length ?? 0);
  let from = cursor;
  while (from > 0 && WORD.test(text[from - 1])) from--;
  let to = cursor;
  while (to < text.length && WORD.test(text[to])) to++;
  const word = text.slice(from, cursor).toLowerCase().replace(/`/g, "");
  if (quotes % 2 === 1 || word === "" || /^-?\d/.test(word)) return { from, to, items: [] };
  const candidates = [...allFields(names), ...KEYWORDS];
  const prefix: string[] = [];
  const inside: string[] = [];
  for (const field of candidates) {
    const lower = field.toLowerCase().replace(/`/g, ""); // typing "params.b" finds params.`batch size`
    if (lower === word) continue;
    if (lower.startsWith(word)) prefix.push(field);
    else if (word.length >= 2 && lower.includes(word)) inside.push(field);
  }
  // "metrics.loss" should offer metrics.loss.min before metrics.loss_other
  prefix.sort((a, b) => a.length - b.length || a.localeCompare(b));
  return { from, to, items: [...prefix, ...inside].slice(0, limit) };
}

/** `text` with the completion's range replaced by `item`, and where the cursor goes. */
export function applyCompletion(text: string, completion: Completion, item: string): { text: string; cursor: number } {
  const out = text.slice(0, completion.from) + item + text.slice(completion.to);
  return { text: out, cursor: completion.from + item.length };
}

/** The names found in a set of runs' params (nested ones by leaf), outputs and metrics, sorted. */
export function namesOf(runs: { inputs: object; outputs: object; metrics: object }[]): Names {
  const params = new Set<string>();
  const outputs = new Set<string>();
  const metrics = new Set<string>();
  for (const run of runs) {
    // nested params by leaf (`optimizer.name`), as the table's columns and the filter name them
    paramKeys(run.inputs as JsonDict).forEach((k) => params.add(k));
    paramKeys(run.outputs as JsonDict).forEach((k) => outputs.add(k));
    Object.keys(run.metrics).forEach((k) => metrics.add(k));
  }
  const sorted = (s: Set<string>) => [...s].sort();
  return { params: sorted(params), outputs: sorted(outputs), metrics: sorted(metrics) };
}
