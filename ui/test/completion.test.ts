import { describe, expect, it } from "vitest";
import type { JsonDict } from "../src/api";
import { applyCompletion, complete, namesOf, quoteName } from "../src/completion";
import { availableColumns, columnValue, parseColumn, splitColumn } from "../src/columns";
import { differingParams, uuidFilters } from "../src/compare";

const names = { params: ["lr", "batch size", "optimizer"], outputs: ["accuracy"], metrics: ["loss", "train/acc", "val.loss"] };

describe("filter completion", () => {
  it("completes a param name from its prefix", () => {
    const text = "params.l";
    const c = complete(text, text.length, names);
    expect(c.items[0]).toBe("params.lr");
    expect(applyCompletion(text, c, c.items[0])).toEqual({ text: "params.lr", cursor: 9 });
  });

  it("offers the summaries of a metric, and quotes names the language cannot read bare", () => {
    const text = "metrics.loss";
    expect(complete(text, text.length, names).items).toEqual(expect.arrayContaining(["metrics.loss.min", "metrics.loss.max"]));
    expect(complete("params.b", 8, names).items).toContain("params.`batch size`");
    expect(complete("metrics.val", 11, names).items).toContain("metrics.`val.loss`.min");
  });

  it("completes the word under the cursor in the middle of a filter", () => {
    const text = "params.lr < 0.5 and met";
    const c = complete(text, text.length, names);
    expect(c.from).toBe(20);
    expect(c.items.every((i) => i.startsWith("metrics."))).toBe(true);
    const later = "stat and params.lr < 1";
    const d = complete(later, 4, names);
    expect(d.items).toContain("status");
    expect(applyCompletion(later, d, "status").text).toBe("status and params.lr < 1");
  });

  it("offers nothing inside a string or a number", () => {
    expect(complete("name = 'par", 11, names).items).toEqual([]);
    expect(complete("params.lr < 0.0", 15, names).items).toEqual([]);
  });

  it("finds names inside a field after the prefix matches", () => {
    expect(complete("acc", 3, names).items).toEqual(expect.arrayContaining(["outputs.accuracy", "metrics.train/acc"]));
  });

  it("quotes only when needed", () => {
    expect(quoteName("train/loss")).toBe("train/loss");
    expect(quoteName("val acc")).toBe("`val acc`");
  });
});

describe("names and columns", () => {
  const row = { inputs: { lr: 0.1, "a.b": 1 }, outputs: { acc: 0.9 }, metrics: { loss: { last: 0.2, min: 0.1, max: 2, count: 3, last_step: 2 } } };

  it("collects the names of loaded runs", () => {
    expect(namesOf([row, { inputs: { seed: 1 }, outputs: {}, metrics: {} }])).toEqual({ params: ["a.b", "lr", "seed"], outputs: ["acc"], metrics: ["loss"] });
  });

  it("reads a column's value from a run row", () => {
    const run = { ...row, uuid: "u", name: "n" } as never;
    expect(columnValue(run, "params.lr")).toBe(0.1);
    expect(columnValue(run, "params.`a.b`")).toBe(1);
    expect(columnValue(run, "metrics.loss.min")).toBe(0.1);
    expect(columnValue(run, "metrics.loss")).toBe(0.2);
    expect(columnValue(run, "outputs.acc")).toBe(0.9);
    expect(splitColumn("metrics.`val acc`.max")).toEqual(["metrics", "val acc", "max"]);
    expect(parseColumn("name")).toEqual({ kind: "run", key: "name", attr: "" });
  });

  it("offers last, min and max of every metric", () => {
    expect(availableColumns(namesOf([row]))).toEqual(expect.arrayContaining(["params.lr", "metrics.loss.last", "metrics.loss.min", "metrics.loss.max"]));
  });
});

describe("compare", () => {
  it("shows only the params that differ", () => {
    const runs: { inputs: JsonDict }[] = [{ inputs: { lr: 0.1, seed: 1, opt: { name: "adam", b: [1, 2] } } }, { inputs: { lr: 0.2, seed: 1, opt: { b: [1, 2], name: "adam" } } }, { inputs: { lr: 0.1, seed: 1, extra: true, opt: { name: "adam", b: [1, 2] } } }];
    expect(differingParams(runs)).toEqual(["extra", "lr"]);
    expect(differingParams(runs, true)).toEqual(["extra", "lr", "opt", "seed"]);
  });

  it("selects runs by uuid in filters the API accepts, without a cap", () => {
    const uuids = Array.from({ length: 450 }, (_, i) => i.toString(16).padStart(32, "0"));
    const filters = uuidFilters(uuids);
    expect(filters).toHaveLength(3);
    expect(filters[0].startsWith("uuid in ('")).toBe(true);
    expect(filters.every((f) => f.length < 10_000)).toBe(true);
    expect(uuidFilters(["x'); drop"])).toEqual([]);
  });
});
