import { describe, expect, it } from "vitest";
import { formatAgo, formatCount, formatDuration, formatNumber, formatValue } from "../src/format";

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
