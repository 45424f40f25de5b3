/**
 * The page-wide step cursor: one step in the URL (`step=`) that every media panel of every run
 * follows. A panel shows its event at that step, or the nearest one before it (marked "≈").
 * Pure functions here; the hook that binds them to the URL is in components/panels/cursor.tsx.
 */

export interface Match {
  /** Index into the panel's sorted steps, or -1 when every step is after the cursor. */
  index: number;
  step: number | null;
  exact: boolean;
}

/** The last index i with steps[i] <= step (steps sorted ascending), by binary search. */
export function nearestPrior(steps: readonly number[], step: number): Match {
  let lo = 0;
  let hi = steps.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (steps[mid] <= step) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return { index: found, step: found < 0 ? null : steps[found], exact: found >= 0 && steps[found] === step };
}

/** The sorted union of several step lists. */
export function unionSteps(lists: Iterable<readonly number[]>): number[] {
  const all = new Set<number>();
  for (const list of lists) for (const s of list) all.add(s);
  return [...all].sort((a, b) => a - b);
}

/** The step `by` places after (or before, when negative) `step` in `steps`; clamped at the ends. */
export function stepBy(steps: readonly number[], step: number | null, by: number): number | null {
  if (steps.length === 0) return null;
  if (step === null) return by >= 0 ? steps[0] : steps[steps.length - 1];
  const at = nearestPrior(steps, step);
  let index = at.index;
  if (by < 0 && !at.exact) index += 1; // between marks: the mark shown is one step back
  const target = Math.min(steps.length - 1, Math.max(0, index + by));
  return steps[target];
}

/** Steps to load ahead of time around a cursor at `index`: ±`radius` positions. */
export function neighbours(steps: readonly number[], index: number, radius = 2): number[] {
  const out: number[] = [];
  for (let d = 1; d <= radius; d++) {
    if (index + d < steps.length) out.push(steps[index + d]);
    if (index - d >= 0) out.push(steps[index - d]);
  }
  return out;
}
