/**
 * Logic of the compare page's views that needs no browser: the axes of parallel coordinates
 * (numbers scaled to their range, other values placed as categories), a scatter's points, and
 * group-band series turned into chart lines.
 */
import type { GroupBand, Json, MetricSummary, RunRow } from "./api";
import type { Line } from "./series";
import { paramValue } from "./compare";

export type Attr = "last" | "min" | "max";

export interface Axis {
  key: string;
  label: string;
  numeric: boolean;
  categories: string[];
  lo: number;
  hi: number;
  /** Each run's position on the axis in [0, 1] (null: no value). */
  at: (run: RunRow) => number | null;
  values: (run: RunRow) => Json | undefined;
}

function param(run: RunRow, key: string): Json | undefined {
  return paramValue(run.inputs, key);
}

export function metricValue(run: RunRow, metric: string, attr: Attr): number | null {
  const summary = run.metrics[metric] as MetricSummary | undefined;
  const v = summary?.[attr];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function label(value: Json | undefined): string {
  return value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
}

/** An axis over `get`'s values: numeric when all present values are numbers, else categories. */
export function makeAxis(key: string, text: string, runs: RunRow[], get: (r: RunRow) => Json | undefined): Axis {
  const present = runs.map(get).filter((v) => v !== undefined && v !== null);
  const numeric = present.length > 0 && present.every((v) => typeof v === "number" && Number.isFinite(v));
  if (numeric) {
    const nums = present as number[];
    const lo = Math.min(...nums);
    const hi = Math.max(...nums);
    return { key, label: text, numeric, categories: [], lo, hi, values: get,
      at: (r) => {
        const v = get(r);
        return typeof v === "number" && Number.isFinite(v) ? (hi === lo ? 0.5 : (v - lo) / (hi - lo)) : null;
      } };
  }
  const categories = [...new Set(present.map(label))].sort();
  return { key, label: text, numeric, categories, lo: 0, hi: Math.max(categories.length - 1, 0), values: get,
    at: (r) => {
      const v = get(r);
      if (v === undefined || v === null) return null;
      const i = categories.indexOf(label(v));
      return categories.length <= 1 ? 0.5 : i / (categories.length - 1);
    } };
}

/** Parallel coordinates' axes: each param (in order), then the metric's summary. */
export function parallelAxes(runs: RunRow[], params: string[], metric: string | null, attr: Attr): Axis[] {
  const axes = params.map((k) => makeAxis(`params.${k}`, k, runs, (r) => param(r, k)));
  if (metric) axes.push(makeAxis(`metrics.${metric}.${attr}`, `${metric} (${attr})`, runs, (r) => metricValue(r, metric, attr)));
  return axes;
}

export interface ScatterPoint {
  run: string;
  x: number;
  y: number;
}

/** (param, metric) per run; a categorical param is placed at its category's index. */
export function scatterPoints(runs: RunRow[], key: string, metric: string, attr: Attr): { points: ScatterPoint[]; axis: Axis } {
  const axis = makeAxis(`params.${key}`, key, runs, (r) => param(r, key));
  const points: ScatterPoint[] = [];
  for (const run of runs) {
    const at = axis.at(run);
    const y = metricValue(run, metric, attr);
    if (at === null || y === null) continue;
    points.push({ run: run.uuid, x: axis.numeric ? (param(run, key) as number) : axis.categories.indexOf(label(param(run, key))), y });
  }
  return { points, axis };
}

/** A group's band as a chart line: the mean, with min/max as the band; empty buckets are gaps. */
export function groupLine(group: GroupBand, raw: boolean): Line {
  const line: Line = { x: [], y: [], lo: [], hi: [], nonFinite: [], raw, total: group.x.length };
  group.x.forEach((x, i) => {
    if (group.runs_in_bucket[i] === 0) return;
    line.x.push(x);
    line.y.push(group.mean[i]);
    line.lo.push(group.min[i]);
    line.hi.push(group.max[i]);
  });
  return line;
}

export function groupLabel(key: string, value: Json, runs: number): string {
  return `${key} = ${value === null ? "(none)" : label(value)} · ${runs} run${runs === 1 ? "" : "s"}`;
}
