/**
 * The runs table's columns when the URL names none: the run fields, then the project's most
 * used params and the last value of its most used metrics (from GET /names, most used first).
 * GET /names lists a nested param by its leaves (`optimizer.name`), so no column holds a dict.
 */
import type { NameCount } from "./api";
import { quoteName, quoteParam } from "./completion";
import { DEFAULT_COLUMNS } from "./url";

export const DEFAULT_PARAMS = 4;
export const DEFAULT_METRICS = 3;

export function defaultColumns(params: NameCount[], metrics: NameCount[]): string[] {
  return [
    ...DEFAULT_COLUMNS,
    ...params.slice(0, DEFAULT_PARAMS).map((p) => `params.${quoteParam(p.name)}`),
    ...metrics.slice(0, DEFAULT_METRICS).map((m) => `metrics.${quoteName(m.name)}.last`),
  ];
}

/** Whether any of these runs may still change (their rows are re-read every few seconds). */
export function anyLive(runs: { status: string }[]): boolean {
  return runs.some((r) => r.status === "running" || r.status === "created");
}
