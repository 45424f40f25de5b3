/**
 * View state kept in the URL (the hash's query string), so a view can be reloaded, shared and
 * walked back with the browser's history.
 *
 * Runs table:  filter=<text> sort=<field or -field> (repeatable) col=<column> (repeatable)
 *              run=<uuid> (repeatable: the selection)
 * Charts:      x=step|wall|relative smooth=<0..0.99> log=1 q=<metric search>
 */
import { useCallback } from "react";
import { useSearchParams } from "react-router";

import type { XAxis } from "./api";

export interface RunsView {
  filter: string;
  sort: string[];
  columns: string[];
  selected: string[];
}

/** The columns shown when the URL names none. */
export const DEFAULT_COLUMNS = ["name", "status", "created_at", "duration", "tags"];

export const DEFAULT_RUNS_VIEW: RunsView = { filter: "", sort: ["-created_at"], columns: DEFAULT_COLUMNS, selected: [] };

function same(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** `defaults`: the columns when the URL names none (a project's own, see defaultColumns). */
export function decodeRunsView(search: URLSearchParams, defaults: string[] = DEFAULT_COLUMNS): RunsView {
  const sort = search.getAll("sort").filter(Boolean);
  const columns = search.has("col") ? search.getAll("col").filter(Boolean) : defaults;
  return {
    filter: search.get("filter") ?? "",
    sort: sort.length ? sort : DEFAULT_RUNS_VIEW.sort,
    columns,
    selected: [...new Set(search.getAll("run").filter(Boolean))],
  };
}

/** The query string of a runs view; defaults are left out to keep URLs short. */
export function encodeRunsView(view: RunsView, defaults: string[] = DEFAULT_COLUMNS): URLSearchParams {
  const search = new URLSearchParams();
  if (view.filter.trim()) search.set("filter", view.filter);
  if (!same(view.sort, DEFAULT_RUNS_VIEW.sort)) view.sort.forEach((s) => search.append("sort", s));
  if (!same(view.columns, defaults)) {
    if (view.columns.length === 0) search.append("col", ""); // explicitly none
    view.columns.forEach((c) => search.append("col", c));
  }
  view.selected.forEach((uuid) => search.append("run", uuid));
  return search;
}

/** The sort after a click on a column header: ascending, then descending, then back to default. */
export function nextSort(sort: string[], column: string): string[] {
  const current = sort[0];
  if (current === column) return [`-${column}`];
  if (current === `-${column}`) return DEFAULT_RUNS_VIEW.sort;
  return [column];
}

export interface ChartView {
  x: XAxis;
  smoothing: number;
  log: boolean;
  search: string;
}

export const DEFAULT_CHART_VIEW: ChartView = { x: "step", smoothing: 0, log: false, search: "" };

export function decodeChartView(search: URLSearchParams): ChartView {
  const x = search.get("x");
  const smoothing = Number(search.get("smooth") ?? 0);
  return {
    x: x === "wall" || x === "relative" || (x !== null && x.startsWith("metric:") && x.length > 7) ? (x as XAxis) : "step",
    smoothing: Number.isFinite(smoothing) ? Math.min(Math.max(smoothing, 0), 0.99) : 0,
    log: search.get("log") === "1",
    search: search.get("q") ?? "",
  };
}

/** The x-axis choices: step, wall and relative time, then each metric (x = its value at the same step). */
export function xAxisOptions(metrics: string[], current: XAxis): { value: XAxis; label: string }[] {
  const names = [...new Set([...metrics, ...(current.startsWith("metric:") ? [current.slice(7)] : [])])];
  return [
    { value: "step", label: "step" }, { value: "wall", label: "wall time" }, { value: "relative", label: "relative time" },
    ...names.map((name) => ({ value: `metric:${name}` as XAxis, label: `metric: ${name}` })),
  ];
}

/** Writes the chart view into `search` (other keys are kept), leaving defaults out. */
export function encodeChartView(view: ChartView, search = new URLSearchParams()): URLSearchParams {
  const out = new URLSearchParams(search);
  for (const key of ["x", "smooth", "log", "q"]) out.delete(key);
  if (view.x !== "step") out.set("x", view.x);
  if (view.smoothing > 0) out.set("smooth", String(view.smoothing));
  if (view.log) out.set("log", "1");
  if (view.search) out.set("q", view.search);
  return out;
}

/** The query string the address bar holds now (the hash router's), which can be ahead of the
 * `useSearchParams()` of the last render: two changes made before React draws again (a pin, then a
 * key) must both be kept, and react-router hands its updater the params of the last render. */
export function currentSearch(fallback: URLSearchParams): URLSearchParams {
  if (typeof window === "undefined") return new URLSearchParams(fallback);
  const hash = window.location.hash;
  const at = hash.indexOf("?");
  return new URLSearchParams(at >= 0 ? hash.slice(at + 1) : "");
}

/** Change the view's query string in place (no history entry), starting from the address bar's. */
export function useUpdateSearch(): (change: (next: URLSearchParams) => void) => void {
  const [, setParams] = useSearchParams();
  return useCallback((change: (next: URLSearchParams) => void) => {
    setParams((rendered) => {
      const next = currentSearch(rendered);
      change(next);
      return next;
    }, { replace: true });
  }, [setParams]);
}
