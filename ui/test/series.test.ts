import { describe, expect, it } from "vitest";
import type { Series } from "../src/api";
import { alignLines, chartData, groupByPrefix, seriesToLine, smooth } from "../src/series";

function series(parts: Partial<Series>): Series {
  return { run: "r", name: "loss", x_axis: "step", raw: false, total: 0, x: [], y: [], x_last: [], first: [], min: [], max: [], last: [], count: [], ...parts };
}

describe("seriesToLine", () => {
  it("keeps raw points and marks non-finite ones instead of dropping them", () => {
    const line = seriesToLine(series({ raw: true, total: 4, x: [0, 1, 2, 3], y: [1, null, 3, 4] }));
    expect(line.x).toEqual([0, 1, 2, 3]);
    expect(line.y).toEqual([1, null, 3, 4]);
    expect(line.nonFinite).toEqual([1]);
  });

  it("draws a bucket through its extremes so a spike stays visible", () => {
    // one bucket of 100 points around a spike of 1000
    const line = seriesToLine(series({ total: 100, x: [0], x_last: [99], first: [1], min: [0.5], max: [1000], last: [2], count: [100] }));
    expect(Math.max(...(line.y as number[]))).toBe(1000);
    expect(Math.min(...(line.y as number[]))).toBe(0.5);
    expect(line.x[0]).toBe(0);
    expect(line.x[line.x.length - 1]).toBe(99);
    expect(line.lo.every((v) => v === 0.5)).toBe(true);
    expect(line.hi.every((v) => v === 1000)).toBe(true);
  });

  it("puts the x values of a bucket in order", () => {
    const line = seriesToLine(series({ total: 20, x: [0, 10], x_last: [9, 19], first: [5, 1], min: [0, 0], max: [9, 9], last: [1, 8], count: [10, 10] }));
    const sorted = [...line.x].sort((a, b) => a - b);
    expect(line.x).toEqual(sorted);
  });

  it("marks a bucket made only of non-finite values as a gap", () => {
    const line = seriesToLine(series({ total: 20, x: [0, 10], x_last: [9, 19], first: [1, null], min: [0, null], max: [2, null], last: [2, null], count: [10, 10] }));
    expect(line.nonFinite).toEqual([10]);
    expect(line.y[line.y.length - 1]).toBeNull();
  });

  it("marks a non-finite first value of a mixed bucket", () => {
    const line = seriesToLine(series({ total: 10, x: [0], x_last: [9], first: [null], min: [1], max: [2], last: [2], count: [10] }));
    expect(line.nonFinite).toEqual([0]);
    expect(line.y.every((v) => v !== null)).toBe(true);
  });
});

describe("smoothing", () => {
  it("leaves values alone at weight 0 and keeps gaps and holes where they are", () => {
    expect(smooth([1, 2, 3], 0)).toEqual([1, 2, 3]);
    const out = smooth([1, null, undefined, 3], 0.5);
    expect(out[0]).toBe(1); // debiased: the first value is itself
    expect(out[1]).toBeNull();
    expect(out[2]).toBeUndefined();
    expect(out[3]).toBeCloseTo((0.5 * 0.5 + 0.5 * 3) / (1 - 0.25));
  });
});

describe("several lines on one axis", () => {
  it("aligns on the union of x with holes, not gaps", () => {
    const a = seriesToLine(series({ raw: true, x: [0, 2], y: [1, 3] }));
    const b = seriesToLine(series({ raw: true, x: [1, 2], y: [10, null] }));
    const aligned = alignLines([a, b]);
    expect(aligned.x).toEqual([0, 1, 2]);
    expect(aligned.columns[0].y).toEqual([1, undefined, 3]);
    expect(aligned.columns[1].y).toEqual([undefined, 10, null]);
  });

  it("lays out uPlot data as x then (line, min, max) per run, dropping non-positive values on a log axis", () => {
    const a = seriesToLine(series({ raw: true, x: [0, 1], y: [0, 2] }));
    const data = chartData([a, a], { smoothing: 0, log: true });
    expect(data).toHaveLength(1 + 2 * 3);
    expect(data[1]).toEqual([undefined, 2]);
  });
});

describe("metric groups", () => {
  it("groups by the prefix before the first slash, ungrouped first", () => {
    expect(groupByPrefix(["val/loss", "loss", "train/loss", "train/acc"])).toEqual([
      ["", ["loss"]],
      ["train", ["train/acc", "train/loss"]],
      ["val", ["val/loss"]],
    ]);
  });
});
