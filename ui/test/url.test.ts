import { describe, expect, it } from "vitest";
import { DEFAULT_COLUMNS, DEFAULT_RUNS_VIEW, decodeChartView, decodeRunsView, encodeChartView, encodeRunsView, nextSort, xAxisOptions, type RunsView } from "../src/url";

describe("runs view in the URL", () => {
  const roundTrip = (view: RunsView) => decodeRunsView(new URLSearchParams(encodeRunsView(view).toString()));

  it("round-trips a full view, quotes and all", () => {
    const view: RunsView = {
      filter: "params.lr < 0.5 and 'best' in tags and metrics.`val acc`.max > 0.9",
      sort: ["-metrics.loss.min", "name"],
      columns: ["name", "params.lr", "metrics.`val acc`.max"],
      selected: ["a".repeat(32), "b".repeat(32)],
    };
    expect(roundTrip(view)).toEqual(view);
  });

  it("leaves defaults out of the URL", () => {
    expect(encodeRunsView(DEFAULT_RUNS_VIEW).toString()).toBe("");
    expect(decodeRunsView(new URLSearchParams(""))).toEqual(DEFAULT_RUNS_VIEW);
  });

  it("keeps an explicitly empty column list apart from the default", () => {
    const view = { ...DEFAULT_RUNS_VIEW, columns: [] };
    expect(roundTrip(view).columns).toEqual([]);
    expect(roundTrip(DEFAULT_RUNS_VIEW).columns).toEqual(DEFAULT_COLUMNS);
  });

  it("drops duplicate selections", () => {
    expect(decodeRunsView(new URLSearchParams("run=x&run=y&run=x")).selected).toEqual(["x", "y"]);
  });

  it("cycles a column's sort: ascending, descending, default", () => {
    expect(nextSort(["-created_at"], "params.lr")).toEqual(["params.lr"]);
    expect(nextSort(["params.lr"], "params.lr")).toEqual(["-params.lr"]);
    expect(nextSort(["-params.lr"], "params.lr")).toEqual(DEFAULT_RUNS_VIEW.sort);
  });
});

describe("chart view in the URL", () => {
  it("round-trips and keeps the page's other keys", () => {
    const base = new URLSearchParams("run=a&run=b");
    const encoded = encodeChartView({ x: "wall", smoothing: 0.6, log: true, search: "loss" }, base);
    expect(encoded.getAll("run")).toEqual(["a", "b"]);
    expect(decodeChartView(encoded)).toEqual({ x: "wall", smoothing: 0.6, log: true, search: "loss" });
  });

  it("clamps and defaults bad values", () => {
    expect(decodeChartView(new URLSearchParams("x=bogus&smooth=7"))).toMatchObject({ x: "step", smoothing: 0.99 });
    expect(decodeChartView(new URLSearchParams("smooth=abc")).smoothing).toBe(0);
  });
});

describe("another metric as the x-axis", () => {
  it("round-trips x=metric:<name> and refuses an empty name", () => {
    const view = { x: "metric:train/epoch" as const, smoothing: 0, log: false, search: "" };
    const encoded = encodeChartView(view);
    expect(encoded.get("x")).toBe("metric:train/epoch");
    expect(decodeChartView(encoded)).toEqual(view);
    expect(decodeChartView(new URLSearchParams("x=metric:")).x).toBe("step");
  });

  it("offers each metric after step and the times, and keeps a chosen one the list lacks", () => {
    expect(xAxisOptions(["loss", "epoch"], "step").map((o) => o.value))
      .toEqual(["step", "wall", "relative", "metric:loss", "metric:epoch"]);
    expect(xAxisOptions([], "metric:lr").map((o) => o.value)).toEqual(["step", "wall", "relative", "metric:lr"]);
  });
});
