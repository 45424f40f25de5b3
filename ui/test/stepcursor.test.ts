import { describe, expect, it } from "vitest";
import { nearestPrior, neighbours, stepBy, unionSteps } from "../src/stepcursor";

describe("nearestPrior", () => {
  const steps = [0, 10, 20, 30];
  it("finds an exact step", () => {
    expect(nearestPrior(steps, 20)).toEqual({ index: 2, step: 20, exact: true });
  });
  it("falls back to the step before, not exact", () => {
    expect(nearestPrior(steps, 25)).toEqual({ index: 2, step: 20, exact: false });
    expect(nearestPrior(steps, 1000)).toEqual({ index: 3, step: 30, exact: false });
  });
  it("has nothing before the first step", () => {
    expect(nearestPrior(steps, -1)).toEqual({ index: -1, step: null, exact: false });
    expect(nearestPrior([], 5).index).toBe(-1);
  });
});

describe("stepBy", () => {
  const steps = [1, 2, 4, 8];
  it("moves along the union of steps and stops at the ends", () => {
    expect(stepBy(steps, 2, 1)).toBe(4);
    expect(stepBy(steps, 2, -1)).toBe(1);
    expect(stepBy(steps, 8, 1)).toBe(8);
    expect(stepBy(steps, 1, -5)).toBe(1);
  });
  it("from a step between marks, goes to the next and previous marks", () => {
    expect(stepBy(steps, 5, 1)).toBe(8);
    expect(stepBy(steps, 5, -1)).toBe(4);
    expect(stepBy(steps, 0, 1)).toBe(1);
  });
  it("starts at an end with no cursor", () => {
    expect(stepBy(steps, null, 1)).toBe(1);
    expect(stepBy(steps, null, -1)).toBe(8);
    expect(stepBy([], 3, 1)).toBe(null);
  });
});

it("unionSteps sorts and removes duplicates", () => {
  expect(unionSteps([[3, 1], [2, 3], []])).toEqual([1, 2, 3]);
});

it("neighbours are the two steps either side", () => {
  expect(neighbours([0, 1, 2, 3, 4, 5], 2).sort()).toEqual([0, 1, 3, 4]);
  expect(neighbours([0, 1], 0)).toEqual([1]);
});
