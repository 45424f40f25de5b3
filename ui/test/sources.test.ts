import { describe, expect, it } from "vitest";
import { chartPoints, firstPanels, panelGrid, seriesKey } from "../src/sources";

const view = { x: "step" as const, smoothing: 0, log: false, search: "" };

describe("panelGrid", () => {
  it("matches the panels' CSS grid (columns of at least 420 px, 10 px gaps, in main's 16 px padding)", () => {
    // 1400 px wide (the benchmarks' viewport): three panels of 447 px, as the browser lays them out
    expect(panelGrid(1400)).toEqual({ columns: 3, width: 447 });
    expect(panelGrid(1000)).toEqual({ columns: 2, width: 477 });
    expect(panelGrid(300)).toEqual({ columns: 1, width: 266 });
    expect(panelGrid(0)).toEqual({ columns: 1, width: 0 });
  });
});

describe("chartPoints", () => {
  it("asks for a bucket per device pixel, within 200 and 4000", () => {
    expect(chartPoints(447)).toBe(447);
    expect(chartPoints(447, 2)).toBe(894);
    expect(chartPoints(50)).toBe(200);
    expect(chartPoints(3000, 2)).toBe(4000);
    expect(chartPoints(447, 0)).toBe(447);
  });
});

describe("firstPanels", () => {
  it("takes the first row of panels in the panels' order: ungrouped first, then groups by name", () => {
    const names = ["val/loss", "train/loss", "lr", "acc", "train/acc"];
    expect(firstPanels(names, view, 3)).toEqual(["acc", "lr", "train/acc"]);
    expect(firstPanels(names, view, 10)).toEqual(["acc", "lr", "train/acc", "train/loss", "val/loss"]);
  });

  it("leaves out what the view's search hides", () => {
    expect(firstPanels(["val/loss", "train/loss", "lr"], { ...view, search: "LOSS val" }, 3)).toEqual(["val/loss"]);
  });
});

describe("seriesKey", () => {
  it("is the panel's query key: the source's runs, the metric, the x-axis and the zoom", () => {
    const source = { key: ["a", "b"], fetch: async () => [] };
    expect(seriesKey(source, "loss", "step", null)).toEqual(["series", "a", "b", "loss", "step", null]);
    expect(seriesKey(source, "loss", "wall", [1, 2])).toEqual(["series", "a", "b", "loss", "wall", [1, 2]]);
  });
});
