/** The logic of the compare page that needs no browser: which runs to fetch, which params differ. */
import type { Json, JsonDict, RunRow } from "./api";
import { assignColors } from "./colors";

/** Filters selecting runs by uuid, each short enough for the API (at most `per` uuids). */
export function uuidFilters(uuids: string[], per = 200): string[] {
  const safe = uuids.filter((u) => /^[0-9a-fA-F-]{32,36}$/.test(u));
  const filters: string[] = [];
  for (let i = 0; i < safe.length; i += per) {
    filters.push(`uuid in (${safe.slice(i, i + per).map((u) => `'${u.replace(/-/g, "").toLowerCase()}'`).join(", ")})`);
  }
  return filters;
}

function canonical(value: Json | undefined): string {
  if (value === undefined) return "\u0000missing";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
}

function isDict(value: Json | undefined): value is JsonDict {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A run's param keys with nested dicts opened into dotted leaves (`optimizer.name`); lists and
 * empty dicts are leaves. */
export function paramKeys(inputs: JsonDict, prefix = ""): string[] {
  return Object.keys(inputs).flatMap((k) => {
    const v = inputs[k];
    return isDict(v) && Object.keys(v).length ? paramKeys(v, `${prefix}${k}.`) : [`${prefix}${k}`];
  });
}

/** `inputs[key]`, or the nested value a dotted key points at, as the server's `group_by` reads it. */
export function paramValue(inputs: JsonDict, key: string): Json | undefined {
  if (key in inputs) return inputs[key];
  let value: Json | undefined = inputs;
  for (const part of key.split(".")) {
    if (!isDict(value) || !(part in value)) return undefined;
    value = value[part];
  }
  return value;
}

/** Param keys (sorted, nested ones as dotted leaves) whose values are not the same in every run;
 * with `all`, every key. */
export function differingParams(runs: Pick<RunRow, "inputs">[], all = false): string[] {
  const keys = [...new Set(runs.flatMap((r) => paramKeys(r.inputs)))].sort();
  if (all) return keys;
  return keys.filter((k) => new Set(runs.map((r) => canonical(paramValue(r.inputs, k)))).size > 1);
}

function groupOrder(a: Json, b: Json): number {
  if (a === null || b === null) return a === null ? (b === null ? 0 : 1) : -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  const [x, y] = [canonical(a), canonical(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A colour per group value (keyed by its JSON), the same whatever order the values come in. */
export function groupColors(values: Json[]): Map<string, string> {
  return assignColors([...values].sort(groupOrder).map((v) => JSON.stringify(v)));
}

export interface ParamGroup {
  value: Json;
  runs: number;
  color: string;
}

/** The groups `key` makes of the runs (a run without it is in the `null` group), in order, with
 * the colours the grouped charts draw them in. */
export function paramGroups(runs: Pick<RunRow, "inputs">[], key: string): ParamGroup[] {
  const counts = new Map<string, { value: Json; runs: number }>();
  for (const run of runs) {
    const value = paramValue(run.inputs, key) ?? null;
    const id = JSON.stringify(value);
    const entry = counts.get(id) ?? { value, runs: 0 };
    entry.runs += 1;
    counts.set(id, entry);
  }
  const groups = [...counts.values()].sort((a, b) => groupOrder(a.value, b.value));
  const colors = groupColors(groups.map((g) => g.value));
  return groups.map((g) => ({ ...g, color: colors.get(JSON.stringify(g.value)) ?? "#555" }));
}

/** Metric names logged by any of the runs, sorted. */
export function metricNames(runs: Pick<RunRow, "metrics">[]): string[] {
  return [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
}
