/**
 * Series from the API -> arrays a uPlot chart draws.
 *
 * A downsampled series holds one entry per bucket: x of its first and last point, and its first,
 * min, max and last values. Each bucket is drawn M4-style (first -> min/max -> last), so the line
 * passes through every extreme and a one-point spike stays visible at any zoom, and the min–max
 * band is filled behind it. Non-finite values (NaN, ±inf arrive as null) are not dropped: the line
 * has a gap there and the x is listed in `nonFinite`, which the chart marks on its axis.
 *
 * In the aligned arrays, `null` is a gap the line must show and `undefined` is "no point of this
 * series at this x" (when several series share one x-axis), which uPlot connects across.
 */
import type { Series } from "./api";

export type Value = number | null | undefined;

export interface Line {
  x: number[];
  y: Value[];
  lo: Value[];
  hi: Value[];
  nonFinite: number[];
  raw: boolean;
  total: number;
}

function isNum(v: number | null | undefined): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

/** One series as points to draw, bucket by bucket (see the module docstring). */
export function seriesToLine(series: Series): Line {
  const line: Line = { x: [], y: [], lo: [], hi: [], nonFinite: [], raw: series.raw, total: series.total };
  const push = (x: number, y: Value, lo: Value, hi: Value) => {
    line.x.push(x);
    line.y.push(y);
    line.lo.push(lo);
    line.hi.push(hi);
  };
  if (series.raw) {
    series.x.forEach((x, i) => {
      if (!isNum(x)) return;
      const y = series.y[i];
      if (isNum(y)) push(x, y, undefined, undefined);
      else {
        push(x, null, undefined, undefined);
        line.nonFinite.push(x);
      }
    });
    return line;
  }
  for (let i = 0; i < series.x.length; i++) {
    const x0 = series.x[i];
    const x1 = series.x_last[i] ?? x0;
    if (!isNum(x0) || !isNum(x1)) continue;
    const [first, lo, hi, last, count] = [series.first[i], series.min[i], series.max[i], series.last[i], series.count[i]];
    if (!isNum(lo) || !isNum(hi)) {
      // every point of the bucket is non-finite
      push(x0, null, null, null);
      line.nonFinite.push(x0);
      continue;
    }
    if (!isNum(first)) line.nonFinite.push(x0);
    if (!isNum(last) && x1 !== x0) line.nonFinite.push(x1);
    if (count <= 1 || x1 === x0) {
      push(x0, isNum(first) ? first : isNum(last) ? last : hi, lo, hi);
      continue;
    }
    // first -> the extreme met first (guessed from the trend) -> the other -> last
    const rising = isNum(first) && isNum(last) ? last >= first : true;
    const [a, b] = rising ? [lo, hi] : [hi, lo];
    const span = x1 - x0;
    if (isNum(first)) push(x0, first, lo, hi);
    push(x0 + span / 3, a, lo, hi);
    push(x0 + (2 * span) / 3, b, lo, hi);
    if (isNum(last)) push(x1, last, lo, hi);
  }
  return line;
}

/**
 * Exponential moving average with debiasing (as TensorBoard's): `weight` 0 leaves the values
 * as they are, 0.99 smooths hard. Gaps (null) and holes (undefined) are kept where they are.
 */
export function smooth(values: Value[], weight: number): Value[] {
  if (!(weight > 0)) return values;
  let last = 0;
  let steps = 0;
  return values.map((v) => {
    if (!isNum(v)) return v;
    last = last * weight + (1 - weight) * v;
    steps += 1;
    return last / (1 - Math.pow(weight, steps));
  });
}

/** For a log axis: values that cannot be drawn (≤ 0) become holes. */
export function positiveOnly(values: Value[]): Value[] {
  return values.map((v) => (isNum(v) && v <= 0 ? undefined : v));
}

export interface Aligned {
  x: number[];
  columns: { y: Value[]; lo: Value[]; hi: Value[] }[];
}

/** Several lines on one shared, sorted x-axis (uPlot's data layout); holes are undefined. */
export function alignLines(lines: Line[]): Aligned {
  if (lines.length === 1) {
    const [only] = lines;
    return { x: only.x, columns: [{ y: only.y, lo: only.lo, hi: only.hi }] };
  }
  const xs = [...new Set(lines.flatMap((l) => l.x))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const columns = lines.map((l) => {
    const y: Value[] = new Array(xs.length).fill(undefined);
    const lo: Value[] = new Array(xs.length).fill(undefined);
    const hi: Value[] = new Array(xs.length).fill(undefined);
    l.x.forEach((x, i) => {
      const at = index.get(x)!;
      y[at] = l.y[i];
      lo[at] = l.lo[i];
      hi[at] = l.hi[i];
    });
    return { y, lo, hi };
  });
  return { x: xs, columns };
}

export interface ChartOptions {
  smoothing: number;
  log: boolean;
}

/**
 * The data of one chart: `[x, line₀, lo₀, hi₀, line₁, lo₁, hi₁, …]`, one triple per line, with
 * smoothing applied to the lines (not the bands) and, for a log axis, non-positive values removed.
 */
export function chartData(lines: Line[], options: ChartOptions): Value[][] {
  if (lines.length === 0) return [[]];
  const aligned = alignLines(lines);
  const data: Value[][] = [aligned.x];
  for (const column of aligned.columns) {
    let y = smooth(column.y, options.smoothing);
    let { lo, hi } = column;
    if (options.log) {
      y = positiveOnly(y);
      lo = positiveOnly(lo);
      hi = positiveOnly(hi);
    }
    data.push(y, lo, hi);
  }
  return data;
}

/** The metric panels' groups: names split at their first "/" ("train/loss" -> "train"). */
export function groupByPrefix(names: string[], separator = "/"): [string, string[]][] {
  const groups = new Map<string, string[]>();
  for (const name of [...names].sort()) {
    const cut = name.indexOf(separator);
    const group = cut > 0 ? name.slice(0, cut) : "";
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group)!.push(name);
  }
  return [...groups.entries()].sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b)));
}
