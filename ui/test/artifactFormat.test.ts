import { expect, it } from "vitest";
import { formatBytes, toYaml } from "../src/pages/artifactFormat";

it("formats sizes in binary units", () => {
  expect(formatBytes(512)).toBe("512 B");
  expect(formatBytes(1536)).toBe("1.5 KB");
  expect(formatBytes(50 * 1024 * 1024)).toBe("50 MB");
});

it("writes nested YAML and quotes what YAML would misread", () => {
  const text = toYaml({ key: "churn-raw", version: 2, tags: ["latest", "v1"], labels: { source: "crm" }, empty: {}, flag: "yes", n: "3", s: "a b" });
  expect(text).toBe([
    "key: churn-raw", "version: 2", "tags:", "  - latest", "  - v1", "labels:", "  source: crm", "empty: {}",
    'flag: "yes"', 'n: "3"', 's: "a b"',
  ].join("\n"));
  expect(toYaml({ rows: [{ a: 1, b: 2 }] })).toBe("rows:\n  - a: 1\n    b: 2");
});
