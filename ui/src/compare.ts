/** The logic of the compare page that needs no browser: which runs to fetch, which params differ. */
import type { Json, RunRow } from "./api";

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

/** Param keys (sorted) whose values are not the same in every run; with `all`, every key. */
export function differingParams(runs: Pick<RunRow, "inputs">[], all = false): string[] {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.inputs)))].sort();
  if (all) return keys;
  return keys.filter((k) => new Set(runs.map((r) => canonical(r.inputs[k]))).size > 1);
}

/** Metric names logged by any of the runs, sorted. */
export function metricNames(runs: Pick<RunRow, "metrics">[]): string[] {
  return [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
}
