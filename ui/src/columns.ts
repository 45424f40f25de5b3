/**
 * Columns of the runs table, named as the API's filter and order_by fields name them:
 * run fields (name, status, created_at, ...), params.<key>, outputs.<key>,
 * metrics.<name>.<last|min|max|count|last_step> (backticks quote a name with dots or spaces).
 */
import type { Json, RunRow } from "./api";
import { paramValue } from "./compare";
import { quoteName, quoteParam, type Names } from "./completion";
import { formatDuration, formatTime, formatValue } from "./format";

export const RUN_COLUMNS = ["name", "status", "created_at", "started_at", "finished_at", "duration", "tags", "user", "host", "git_commit", "description", "uuid"];
export const SUMMARY_ATTRS = ["last", "min", "max"] as const;

/** `metrics.\`val acc\`.max` -> ["metrics", "val acc", "max"]. */
export function splitColumn(id: string): string[] {
  const parts: string[] = [];
  const pattern = /`([^`]*)`|([^.`]+)/g;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(id)) !== null) parts.push(match[1] ?? match[2]);
  return parts;
}

export interface ColumnRef {
  kind: "run" | "params" | "outputs" | "metrics";
  key: string;
  attr: string;
}

export function parseColumn(id: string): ColumnRef {
  const [head, ...rest] = splitColumn(id);
  if (head === "params" || head === "inputs") return { kind: "params", key: rest.join("."), attr: "" };
  if (head === "outputs") return { kind: "outputs", key: rest.join("."), attr: "" };
  if (head === "metrics") {
    const attr = rest.length > 1 && ["last", "min", "max", "count", "last_step"].includes(rest[rest.length - 1]) ? rest.pop()! : "last";
    return { kind: "metrics", key: rest.join("."), attr };
  }
  return { kind: "run", key: head ?? id, attr: "" };
}

export function columnValue(row: RunRow, id: string): Json | undefined {
  const ref = parseColumn(id);
  // a dotted key is the param of that name, or else a leaf of a nested param (`optimizer.name`)
  if (ref.kind === "params") return paramValue(row.inputs, ref.key);
  if (ref.kind === "outputs") return paramValue(row.outputs, ref.key);
  if (ref.kind === "metrics") {
    const summary = row.metrics[ref.key] as unknown as Record<string, Json> | undefined;
    return summary?.[ref.attr];
  }
  return (row as unknown as Record<string, Json>)[ref.key];
}

export function columnText(row: RunRow, id: string): string {
  const value = columnValue(row, id);
  if (id === "created_at" || id === "started_at" || id === "finished_at") return formatTime(value as string | null);
  if (id === "duration") return formatDuration(value as number | null);
  if (id === "tags") return ((value as string[]) ?? []).join(", ");
  if (id === "name") return (value as string | null) ?? row.uuid.slice(0, 8);
  return formatValue(value);
}

export function columnLabel(id: string): string {
  const ref = parseColumn(id);
  if (ref.kind === "run") return ref.key.replace(/_/g, " ");
  if (ref.kind === "metrics") return `${ref.key} (${ref.attr})`;
  return ref.key;
}

export function columnGroup(id: string): string {
  const kind = parseColumn(id).kind;
  return kind === "run" ? "" : kind;
}

/** Whether the server can order by the column (tags cannot be ordered). */
export function sortable(id: string): boolean {
  return id !== "tags";
}

export function isNumeric(id: string): boolean {
  const ref = parseColumn(id);
  return ref.kind === "metrics" || id === "duration";
}

/** Every column the chooser offers for these names. */
export function availableColumns(names: Names): string[] {
  return [
    ...RUN_COLUMNS,
    ...names.params.map((k) => `params.${quoteParam(k)}`),
    ...names.outputs.map((k) => `outputs.${quoteParam(k)}`),
    ...names.metrics.flatMap((k) => SUMMARY_ATTRS.map((a) => `metrics.${quoteName(k)}.${a}`)),
  ];
}
