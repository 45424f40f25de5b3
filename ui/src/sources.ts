/**
 * Where the run and compare pages' charts get their lines, shared with the routes' prefetch
 * (prefetch.ts): a chart's first series request goes out as soon as its page's data says which
 * metrics there are, not once the page's code has loaded and rendered. The page's panels ask
 * with the same query keys (`seriesKey`), so they find those requests in flight or answered.
 */
import type { QueryClient } from "@tanstack/react-query";
import { metricSeries, querySeries, type RunDetail, type RunRow, type XAxis } from "./api";
import { assignColors, runColor } from "./colors";
import { metricNames } from "./compare";
import type { ChartLine } from "./components/Chart";
import { groupByPrefix, seriesToLine } from "./series";
import type { ChartView } from "./url";

export interface SeriesRange { x: XAxis; points: number; xMin: number | null; xMax: number | null }

export interface SeriesSource {
  /** Identifies the runs, for caching. */
  key: string[];
  fetch: (name: string, range: SeriesRange, signal: AbortSignal) => Promise<ChartLine[]>;
  /** Its lines do not pass through their buckets' extremes (a group's mean): bands at any count. */
  bandsAlways?: boolean;
}

/** The query key of a chart's lines (a metric panel's, and its prefetch's). */
export const seriesKey = (source: SeriesSource, name: string, x: XAxis, zoom: [number, number] | null) =>
  ["series", ...source.key, name, x, zoom];

// The metric panels' grid (styles.css: `main` padding 16 px a side; `.panels` columns of at
// least 420 px with 10 px gaps; a panel's 1 px border): what a panel's width will be in a
// viewport `viewport` px wide, before any panel exists to be measured.
const MAIN_PADDING = 32;
const PANEL_MIN = 420;
const PANEL_GAP = 10;
const PANEL_BORDER = 2;

/** Panels a row holds, and each one's inner width (its clientWidth), in a viewport this wide. */
export function panelGrid(viewport: number): { columns: number; width: number } {
  const content = Math.max(0, viewport - MAIN_PADDING);
  const columns = Math.max(1, Math.floor((content + PANEL_GAP) / (PANEL_MIN + PANEL_GAP)));
  return { columns, width: Math.max(0, Math.round((content - PANEL_GAP * (columns - 1)) / columns - PANEL_BORDER)) };
}

/** Buckets to ask for a chart this many CSS px wide: one per device pixel (200 to 4,000). */
export function chartPoints(width: number, pixelRatio = 1): number {
  return Math.max(200, Math.min(4000, Math.round(width * (pixelRatio || 1))));
}

/** A run page's metric lines: one run, each metric in its own panel. */
export function runSource(uuid: string): SeriesSource {
  return {
    key: [uuid],
    fetch: async (name, range, signal) => {
      const series = await metricSeries(uuid, name, range, signal);
      return [{ key: uuid, label: name, color: runColor(uuid), line: seriesToLine(series) }];
    },
  };
}

/** Each compared run's colour (stable per run: assigned over the URL's uuids). */
export const compareColors = (uuids: string[]) => assignColors(uuids.map((u) => u.replace(/-/g, "").toLowerCase()));

/** Each compared run's label in legends: its name, or the start of its uuid. */
export const compareLabels = (rows: RunRow[]) => new Map(rows.map((r) => [r.uuid, r.name ?? r.uuid.slice(0, 8)]));

/** Every compared run's line of a metric, in one chart. */
export function compareSource(rows: RunRow[], labels: Map<string, string>, colors: Map<string, string>): SeriesSource {
  return {
    key: rows.map((r) => r.uuid),
    fetch: async (name, range, signal) => {
      const series = await querySeries(rows.map((r) => r.uuid), [name], range, signal);
      return series.map((s) => ({
        key: s.run, label: labels.get(s.run) ?? s.run.slice(0, 8), color: colors.get(s.run) ?? "#555", line: seriesToLine(s),
      }));
    },
  };
}

/** The metrics of the first row of panels, in the panels' order (grouped by prefix, filtered by the view's search). */
export function firstPanels(names: string[], view: ChartView, columns: number): string[] {
  const words = view.search.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = names.filter((n) => words.every((w) => n.toLowerCase().includes(w)));
  return groupByPrefix(shown).flatMap(([, members]) => members).slice(0, columns);
}

/** Ask for the first row of panels' lines at full view, as the panels will (same key, same buckets). */
export function prefetchPanels(client: QueryClient, source: SeriesSource, names: string[], view: ChartView): void {
  const viewport = typeof document === "undefined" ? 1200 : document.documentElement.clientWidth;
  const grid = panelGrid(viewport);
  const points = chartPoints(grid.width, typeof window === "undefined" ? 1 : window.devicePixelRatio);
  for (const name of firstPanels(names, view, grid.columns)) {
    const queryKey = seriesKey(source, name, view.x, null);
    if (client.getQueryState(queryKey)) continue;
    void client.prefetchQuery({
      queryKey,
      queryFn: ({ signal }) => source.fetch(name, { x: view.x, points, xMin: null, xMax: null }, signal),
    });
  }
}

/** The run page's metric names, in the run's order. */
export const runMetricNames = (run: RunDetail) => run.events.metric ?? Object.keys(run.metrics);

/** The compare page's metric names. */
export const compareMetricNames = metricNames;
