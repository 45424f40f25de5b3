import { describe, expect, it } from "vitest";
import type { RunRow } from "../src/api";
import { groupLabel, groupLine, parallelAxes, scatterPoints } from "../src/compareViews";

const run = (uuid: string, inputs: Record<string, unknown>, loss: number | null): RunRow => ({
  uuid, project: "p", name: uuid, description: null, status: "succeeded", tags: [], created_at: null, started_at: null,
  finished_at: null, duration: null, inputs: inputs as RunRow["inputs"], outputs: {}, user: null, host: null,
  git_commit: null, columns: {},
  metrics: loss === null ? {} : { loss: { last: loss, min: loss / 2, max: loss * 2, count: 3, last_step: 2 } },
});

describe("compare views", () => {
  const runs = [run("a", { lr: 0.1, opt: "sgd" }, 1), run("b", { lr: 0.3, opt: "adam" }, 3), run("c", { opt: "adam" }, null)];

  it("scales numbers to their range and places other values as categories", () => {
    const [lr, opt, loss] = parallelAxes(runs, ["lr", "opt"], "loss", "last");
    expect(lr.numeric && lr.at(runs[0]) === 0 && lr.at(runs[1]) === 1 && lr.at(runs[2]) === null).toBe(true);
    expect(opt.numeric).toBe(false);
    expect(opt.categories).toEqual(["adam", "sgd"]);
    expect([opt.at(runs[0]), opt.at(runs[1])]).toEqual([1, 0]);
    expect(loss.label).toBe("loss (last)");
    expect([loss.at(runs[0]), loss.at(runs[1]), loss.at(runs[2])]).toEqual([0, 1, null]);
  });

  it("puts a run in the scatter only with both values", () => {
    const { points } = scatterPoints(runs, "lr", "loss", "min");
    expect(points).toEqual([{ run: "a", x: 0.1, y: 0.5 }, { run: "b", x: 0.3, y: 1.5 }]);
    const byOpt = scatterPoints(runs, "opt", "loss", "max").points;
    expect(byOpt.map((p) => p.x)).toEqual([1, 0]);
  });

  it("turns a group band into a line, leaving out buckets no run reached", () => {
    const line = groupLine({ value: "a", runs: ["x", "y"], x: [0, 1, 2], mean: [1, null, 3], min: [0, null, 2],
      max: [2, null, 4], runs_in_bucket: [2, 0, 1], non_finite: 0 }, true);
    expect(line.x).toEqual([0, 2]);
    expect([line.y, line.lo, line.hi]).toEqual([[1, 3], [0, 2], [2, 4]]);
    expect(groupLabel("opt", null, 1)).toBe("opt = (none) · 1 run");
  });
});
