import { lazy, Suspense, useEffect, type ComponentProps, useLayoutEffect, useRef, useState } from "react";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import type { XAxis } from "../api";
import { groupByPrefix } from "../series";
import { chartPoints, seriesKey, type SeriesSource } from "../sources";
import { xAxisOptions, type ChartView } from "../url";
import { ErrorBox } from "./Layout";

let loaded: typeof import("./Chart") | null = null;
export const loadChart = () => import("./Chart").then((module) => (loaded = module));
const MARGIN_PX = 300; // a chart this near the viewport loads
const LazyChart = lazy(loadChart);

/** The chart, drawn in the same commit as its lines once its code is in (the pages load it early):
 * through React.lazy it would suspend once more, and React holds back the reveal of a suspended
 * boundary for up to 300 ms after its fallback showed. */
function Chart(props: ComponentProps<typeof LazyChart>) {
  const Loaded = loaded?.default;
  if (Loaded) return <Loaded {...props} />;
  return <Suspense fallback={<div className="chart-placeholder" />}><LazyChart {...props} /></Suspense>;
}

export type { SeriesSource };

/** True once the element has come near the viewport (charts load only when seen). */
function useSeen<T extends Element>() {
  const ref = useRef<T>(null);
  const [seen, setSeen] = useState(false);
  // on screen when mounted: known before the first paint, not a frame later from the observer
  useLayoutEffect(() => {
    const box = ref.current?.getBoundingClientRect();
    if (box && box.top < window.innerHeight + MARGIN_PX && box.bottom > -MARGIN_PX) setSeen(true);
  }, []);
  useEffect(() => {
    const element = ref.current;
    if (!element || seen) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) setSeen(true);
    }, { rootMargin: `${MARGIN_PX}px` });
    observer.observe(element);
    return () => observer.disconnect();
  }, [seen]);
  return [ref, seen] as const;
}

function MetricPanel({ name, source, view, unit }: { name: string; source: SeriesSource; view: ChartView; unit: string }) {
  const [ref, seen] = useSeen<HTMLDivElement>();
  const [zoom, setZoom] = useState<[number, number] | null>(null);
  useEffect(() => setZoom(null), [view.x]);
  const lines = useQuery({
    queryKey: seriesKey(source, name, view.x, zoom), // the route may have asked already (sources.ts)
    queryFn: ({ signal }) => {
      const points = chartPoints(ref.current?.clientWidth ?? 600, window.devicePixelRatio);
      return source.fetch(name, { x: view.x, points, xMin: zoom?.[0] ?? null, xMax: zoom?.[1] ?? null }, signal);
    },
    enabled: seen,
    placeholderData: keepPreviousData,
  });
  const drawn = lines.data ?? [];
  const nonFinite = drawn.reduce((n, l) => n + l.line.nonFinite.length, 0);
  const raw = drawn.length > 0 && drawn.every((l) => l.line.raw);
  return (
    <div className="panel" ref={ref} data-metric={name}>
      <div className="panel-head">
        <span className="panel-title" title={name}>{name}</span>
        <span className="panel-info">
          {drawn.length === 1 ? `${drawn[0].line.total} point${drawn[0].line.total === 1 ? "" : "s"}${raw ? "" : ", min/max per bucket"}` : ""}
          {nonFinite ? <span className="nonfinite" title="NaN or ±inf values, marked in red under the axis"> · {nonFinite} non-finite</span> : null}
          {zoom ? <button className="link" onClick={() => setZoom(null)}>reset zoom</button> : null}
        </span>
      </div>
      {lines.isError ? <ErrorBox error={lines.error} /> : null}
      {!seen || lines.isPending ? <div className="chart-placeholder" /> : (
        <Chart lines={drawn} xAxis={view.x} smoothing={view.smoothing} log={view.log} unit={unit} onZoom={setZoom}
               bandsUpTo={source.bandsAlways ? Infinity : undefined} />
      )}
    </div>
  );
}

/** A panel per metric, grouped by the part of the name before the first `separator` ("/"; the
 * system series use "."); `unit` names each series' unit (none by default). */
export function MetricPanels({ names, source, view, separator = "/", unit }: {
  names: string[]; source: SeriesSource; view: ChartView; separator?: string; unit?: (name: string) => string;
}) {
  useEffect(() => void loadChart(), []); // the chart's code loads while the series are asked for
  const words = view.search.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = names.filter((n) => words.every((w) => n.toLowerCase().includes(w)));
  if (names.length === 0) return <p className="empty">No metrics logged.</p>;
  return (
    <div className="metric-groups">
      {shown.length === 0 ? <p className="empty">No metric matches “{view.search}”.</p> : null}
      {groupByPrefix(shown, separator).map(([group, members]) => (
        <details key={group || "(root)"} open className="metric-group">
          <summary>{group || "metrics"} <span className="count">{members.length}</span></summary>
          <div className="panels">
            {members.map((name) => <MetricPanel key={name} name={name} source={source} view={view} unit={unit?.(name) ?? ""} />)}
          </div>
        </details>
      ))}
    </div>
  );
}

export function ChartControls({ view, onChange, metrics = [] }: { view: ChartView; onChange: (view: ChartView) => void; metrics?: string[] }) {
  return (
    <div className="chart-controls">
      <input aria-label="Search metrics" placeholder="Search metrics…" value={view.search}
             onChange={(e) => onChange({ ...view, search: e.target.value })} />
      <label>x-axis{" "}
        <select aria-label="x-axis" value={view.x} onChange={(e) => onChange({ ...view, x: e.target.value as XAxis })}>
          {xAxisOptions(metrics, view.x).map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
        </select>
      </label>
      <label>smoothing{" "}
        <input type="range" aria-label="smoothing" min={0} max={0.99} step={0.01} value={view.smoothing}
               onChange={(e) => onChange({ ...view, smoothing: Number(e.target.value) })} />
        <span className="smoothing-value">{view.smoothing.toFixed(2)}</span>
      </label>
      <label><input type="checkbox" checked={view.log} onChange={(e) => onChange({ ...view, log: e.target.checked })} /> log scale</label>
      <span className="hint">Drag on a chart to zoom, double-click to zoom out.</span>
    </div>
  );
}
