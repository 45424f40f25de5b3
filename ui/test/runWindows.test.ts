import { describe, expect, it } from "vitest";
import { pagesFor } from "../src/runWindows";

describe("run windows", () => {
  it("asks for the pages on screen and one each side, within the result", () => {
    expect(pagesFor(0, 30, 100_000)).toEqual([0, 1]);
    expect(pagesFor(50_000, 50_030, 100_000)).toEqual([499, 500, 501]);
    expect(pagesFor(99_970, 99_999, 100_000)).toEqual([998, 999]);
    expect(pagesFor(0, 10, 0)).toEqual([]);
  });
});
