/**
 * Colours of runs in charts: a run keeps its colour from chart to chart and from view to view.
 * Each run prefers a palette slot picked by a hash of its uuid; when two runs of one comparison
 * want the same slot, the later one (in the given order) takes the next free slot. Past the
 * palette's size, colours come from the golden angle around the hue circle.
 */

export const PALETTE = [
  "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
  "#e377c2", "#17becf", "#bcbd22", "#0b8a6f", "#393b79", "#637939",
];

export function hashString(text: string): number {
  let hash = 2166136261; // FNV-1a
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  return hash >>> 0;
}

/** The colour a run gets when nothing else competes for its slot. */
export function runColor(uuid: string): string {
  return PALETTE[hashString(uuid) % PALETTE.length];
}

/** A colour for each run (same order as `uuids`), distinct while the palette lasts. */
export function assignColors(uuids: string[]): Map<string, string> {
  const colors = new Map<string, string>();
  const taken = new Set<number>();
  let extra = 0;
  for (const uuid of uuids) {
    if (colors.has(uuid)) continue;
    if (taken.size < PALETTE.length) {
      let slot = hashString(uuid) % PALETTE.length;
      while (taken.has(slot)) slot = (slot + 1) % PALETTE.length;
      taken.add(slot);
      colors.set(uuid, PALETTE[slot]);
    } else {
      const hue = Math.round((hashString(uuid) % 360 + extra++ * 137.508) % 360);
      colors.set(uuid, `hsl(${hue}, 65%, 42%)`);
    }
  }
  return colors;
}
