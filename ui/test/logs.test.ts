import { describe, expect, it } from "vitest";
import type { LogLine } from "../src/api";
import { logFilter } from "../src/components/RunExtras";

const line = (message: string, stream: string, level: string | null, rank: number): LogLine =>
  ({ timestamp: "2026-01-01T00:00:00Z", stream, message, level, logger: null, rank });

const lines = [
  line("epoch 1 done", "stdout", null, 0),
  line("a warning on stderr", "stderr", null, 1),
  line("loss is high", "logging", "WARNING", 0),
  line("diverged", "logging", "ERROR", 1),
  line("details", "logging", "debug", 1),
];

describe("the logs viewer's filters", () => {
  it("keeps every line without a filter", () => {
    expect(logFilter(lines, "", "", "", "")).toHaveLength(5);
  });

  it("searches every word, in any case", () => {
    expect(logFilter(lines, "EPOCH done", "", "", "").map((l) => l.message)).toEqual(["epoch 1 done"]);
    expect(logFilter(lines, "epoch nothing", "", "", "")).toEqual([]);
  });

  it("keeps one stream, one rank, or the lines at or above a level", () => {
    expect(logFilter(lines, "", "stderr", "", "").map((l) => l.message)).toEqual(["a warning on stderr"]);
    expect(logFilter(lines, "", "", "", "1").map((l) => l.message)).toEqual(["a warning on stderr", "diverged", "details"]);
    expect(logFilter(lines, "", "", "WARNING", "").map((l) => l.message)).toEqual(["loss is high", "diverged"]);
    // DEBUG is the lowest level: every line passes, those without a level too
    expect(logFilter(lines, "", "", "DEBUG", "")).toHaveLength(5);
    expect(logFilter(lines, "", "logging", "ERROR", "1").map((l) => l.message)).toEqual(["diverged"]);
  });
});
