import { describe, expect, it } from "vitest";
import { assignColors, PALETTE, runColor } from "../src/colors";

const uuids = Array.from({ length: 30 }, (_, i) => i.toString(16).padStart(32, "0"));

describe("run colours", () => {
  it("are distinct while the palette lasts", () => {
    const colors = assignColors(uuids.slice(0, PALETTE.length));
    expect(new Set(colors.values()).size).toBe(PALETTE.length);
  });

  it("do not depend on the other runs when there is no clash", () => {
    const [first] = uuids;
    expect(assignColors([first]).get(first)).toBe(runColor(first));
    expect(assignColors(uuids.slice(0, 3)).get(uuids[0])).toBe(runColor(uuids[0]));
  });

  it("are the same for the same runs in the same order", () => {
    expect([...assignColors(uuids)]).toEqual([...assignColors([...uuids])]);
  });

  it("go on past the palette with distinct hues", () => {
    const colors = assignColors(uuids);
    expect(colors.size).toBe(uuids.length);
    expect(new Set(colors.values()).size).toBeGreaterThan(PALETTE.length);
  });
});
