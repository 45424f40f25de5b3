import { describe, expect, it } from "vitest";
import { formatAgo, formatCount, formatDuration, formatNumber, formatTicks, formatValue, formatWithUnit, resourceUnit } from "../src/format";
import { groupByPrefix } from "../src/series";

describe("formatting", () => {
  it("keeps integers, rounds floats to five significant digits, uses exponents at the extremes", () => {
    expect(formatNumber(42)).toBe("42");
    expect(formatNumber(0.123456789)).toBe("0.12346");
    expect(formatNumber(1.5e-7)).toBe("1.500e-7");
    expect(formatNumber(2.5e9 + 0.5)).toBe("2.500e+9");
    expect(formatNumber(null)).toBe("");
  });

  it("writes durations at a readable unit", () => {
    expect(formatDuration(0.031)).toBe("31 ms");
    expect(formatDuration(2.5)).toBe("2.5 s");
    expect(formatDuration(125)).toBe("2m 5s");
    expect(formatDuration(3725)).toBe("1h 2m 5s");
    expect(formatDuration(null)).toBe("");
  });

  it("shows nested values as JSON and times as ages", () => {
    expect(formatValue({ a: [1, 2] })).toBe('{"a":[1,2]}');
    expect(formatValue(true)).toBe("true");
    expect(formatAgo("2026-01-01T00:00:00Z", Date.parse("2026-01-01T02:30:00Z"))).toBe("2 h ago");
  });
});

describe("formatCount", () => {
  it("writes counts with thousands separators, as toLocaleString('en') does", () => {
    for (const n of [0, 7, 999, 1000, 12345, 100000, 1234567, 1000000000, -4500]) {
      expect(formatCount(n)).toBe(n.toLocaleString("en"));
    }
    expect(formatCount(1234.5)).toBe("1234.5");
  });
});

describe("units of the system charts", () => {
  it("knows which resource series are bytes, rates and percentages", () => {
    expect(resourceUnit("memory.used")).toBe("B");
    expect(resourceUnit("process.memory.rss")).toBe("B");
    expect(resourceUnit("gpu.0.memory.total")).toBe("B");
    expect(resourceUnit("gpu.1.process.memory")).toBe("B");
    expect(resourceUnit("disk.write_rate")).toBe("B/s");
    expect(resourceUnit("network.recv_rate")).toBe("B/s");
    expect(resourceUnit("cpu.percent")).toBe("%");
    expect(resourceUnit("memory.percent")).toBe("%");
    expect(resourceUnit("gpu.0.temperature")).toBe("°C");
    expect(resourceUnit("gpu.0.power")).toBe("W");
    expect(resourceUnit("load.1m")).toBe("");
    expect(resourceUnit("process.count")).toBe("");
  });

  it("writes ticks in bytes with as many decimals as the step between them needs", () => {
    const ticks = [32_821_000_000, 32_822_000_000, 32_823_000_000];
    expect(formatTicks(ticks, "B")).toEqual(["32.821 GB", "32.822 GB", "32.823 GB"]);
    expect(formatTicks([0, 5_000_000, 10_000_000, 20_000_000], "B/s")).toEqual(["0 B/s", "5 MB/s", "10 MB/s", "20 MB/s"]);
    expect(formatTicks([0, 500, 1000], "B")).toEqual(["0 B", "0.5 kB", "1.0 kB"]);
    expect(formatTicks([0, 200, 400], "B")).toEqual(["0 B", "200 B", "400 B"]);
    expect(formatTicks([7.1, 7.12, 7.14], "%")).toEqual(["7.10%", "7.12%", "7.14%"]);
    expect(formatTicks([0.5, 1], "")).toEqual(["0.5", "1"]);
    expect(formatWithUnit(1_813_000_000, "B")).toBe("1.813 GB");
    expect(formatWithUnit(31.25, "%")).toBe("31.25%");
    expect(formatWithUnit(2.5, "")).toBe("2.5");
    expect(formatWithUnit(null, "B")).toBe("");
  });

  it("groups system series by the part before the first dot", () => {
    expect(groupByPrefix(["cpu.percent", "memory.used", "memory.total", "gpu.0.utilization"], ".")).toEqual([
      ["cpu", ["cpu.percent"]], ["gpu", ["gpu.0.utilization"]], ["memory", ["memory.total", "memory.used"]]]);
  });
});
