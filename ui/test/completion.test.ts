import { describe, expect, it } from "vitest";
import type { JsonDict } from "../src/api";
import { applyCompletion, complete, namesOf, quoteName, quoteParam } from "../src/completion";
import { availableColumns, columnValue, parseColumn, splitColumn } from "../src/columns";
import { differingParams, groupColors, paramGroups, paramValue, uuidFilters } from "../src/compare";

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

  it("opens nested params into their leaves: names, columns, values", () => {
    const nested = { inputs: { lr: 0.1, optimizer: { name: "sgd", betas: { b1: 0.9 } } }, outputs: {}, metrics: {} };
    const seen = namesOf([nested]);
    expect(seen.params).toEqual(["lr", "optimizer.betas.b1", "optimizer.name"]); // never the dict itself
    expect(availableColumns(seen)).toEqual(expect.arrayContaining(["params.optimizer.name", "params.optimizer.betas.b1"]));
    expect(availableColumns(seen)).not.toContain("params.optimizer");
    const run = { ...nested, uuid: "u", name: "n" } as never;
    expect(columnValue(run, "params.optimizer.name")).toBe("sgd");
    expect(columnValue(run, "params.`optimizer.name`")).toBe("sgd");
    expect(columnValue(run, "params.optimizer.betas.b1")).toBe(0.9);
    expect(quoteParam("optimizer.name")).toBe("optimizer.name");
    expect(quoteParam("model.batch size")).toBe("model.`batch size`");
    expect(quoteParam("a..b")).toBe("`a..b`");
  });

  it("offers last, min and max of every metric", () => {
    expect(availableColumns(namesOf([row]))).toEqual(expect.arrayContaining(["params.lr", "metrics.loss.last", "metrics.loss.min", "metrics.loss.max"]));
  });
});

describe("compare", () => {
  it("shows only the params that differ", () => {
    const runs: { inputs: JsonDict }[] = [{ inputs: { lr: 0.1, seed: 1, opt: { name: "adam", b: [1, 2] } } }, { inputs: { lr: 0.2, seed: 1, opt: { b: [1, 2], name: "adam" } } }, { inputs: { lr: 0.1, seed: 1, extra: true, opt: { name: "adam", b: [1, 2] } } }];
    expect(differingParams(runs)).toEqual(["extra", "lr"]);
    expect(differingParams(runs, true)).toEqual(["extra", "lr", "opt.b", "opt.name", "seed"]);
  });

  it("opens nested params into their leaves, so only the leaf that differs is shown", () => {
    const runs: { inputs: JsonDict }[] = [
      { inputs: { lr: 0.1, optimizer: { name: "sgd", momentum: 0.9, betas: [0.9, 0.999] } } },
      { inputs: { lr: 0.1, optimizer: { name: "adam", momentum: 0.9, betas: [0.9, 0.999] } } },
      { inputs: { lr: 0.1, optimizer: { name: "adam", momentum: 0.9, betas: [0.9, 0.99] } } },
    ];
    expect(differingParams(runs)).toEqual(["optimizer.betas", "optimizer.name"]);
    expect(paramValue(runs[0].inputs, "optimizer.name")).toBe("sgd");
    expect(paramValue(runs[2].inputs, "optimizer.betas")).toEqual([0.9, 0.99]);
    // a key that holds a dot itself is read whole first, as the server's group_by reads it
    expect(paramValue({ "a.b": 1, a: { b: 2 } }, "a.b")).toBe(1);
    expect(paramValue({ a: 1 }, "a.b")).toBeUndefined();
    // an empty dict is a value, not a folder
    expect(differingParams([{ inputs: { o: {} } }, { inputs: { o: { k: 1 } } }])).toEqual(["o", "o.k"]);
  });

  it("lists the groups of a param with one colour each, in the order the charts colour them", () => {
    const runs: { inputs: JsonDict }[] = [{ inputs: { bs: 64 } }, { inputs: { bs: 32 } }, { inputs: { bs: 64 } }, { inputs: {} }];
    const groups = paramGroups(runs, "bs");
    expect(groups.map((g) => [g.value, g.runs])).toEqual([[32, 1], [64, 2], [null, 1]]);
    expect(new Set(groups.map((g) => g.color)).size).toBe(3);
    const again = paramGroups([...runs].reverse(), "bs");
    expect(again.map((g) => g.color)).toEqual(groups.map((g) => g.color));
    expect(groupColors([64, 32, null])).toEqual(new Map(groups.map((g) => [JSON.stringify(g.value), g.color])));
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
