/**
 * Media of one or more runs, every panel following one step cursor (`#/media?run=…&step=N`).
 *
 * The cursor is set by the page slider, any panel's slider, a click on the metric chart, ←/→
 * (Shift: 10 marks) or the play button. Every panel of every run then shows its event at that
 * step, or the nearest one before it with an "≈ step N" mark. A pinned panel keeps its own step.
 * Files of the marks either side of the cursor are loaded ahead, so scrubbing does not wait.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { useUpdateSearch } from "../url";
import { useQueries, useQuery } from "@tanstack/react-query";
import { getRun, metricSeries, tokenInUse, type RunDetail } from "../api";
import { runEvents, runFileUrl, type MediaEvent } from "../api2";
import { assignColors } from "../colors";
import { blobUrl } from "../components/Authed";
import { ErrorBox, Loading } from "../components/Layout";
import { nearestPrior, neighbours, stepBy, unionSteps } from "../stepcursor";
import {
  AudioCell, ChartCell, FilesCell, HtmlCell, ImageCell, ImageCompare, NO_ZOOM, TextCell, VideoCell,
  type CellProps, type ImageView,
} from "../components/panels/MediaPanels";
import { ConfusionCell, CurveCell, DataFrameCell, HistogramCell, HistogramSteps, TraceCell } from "../components/panels/DataPanels";
import "../media.css";

/** Panel kinds in page order; any other kind with a file is shown as a file list. */
const KIND_ORDER = ["image", "video", "audio", "chart", "html", "text", "histogram", "curve", "confusion", "dataframe", "span", "model"];
const CELLS: Record<string, (props: CellProps) => React.ReactElement> = {
  image: ImageCell, audio: AudioCell, video: VideoCell, text: TextCell, html: HtmlCell, chart: ChartCell,
  histogram: HistogramCell, curve: CurveCell, confusion: ConfusionCell, dataframe: DataFrameCell, span: TraceCell,
};
const PREFETCH = new Set(["image", "video"]);
const SKIP = new Set(["metric"]);

interface Panel {
  kind: string;
  name: string;
  key: string;
}

const stepOf = (e: MediaEvent) => e.step ?? 0;

/** Loads the files of the marks next to the cursor, once each. */
const prefetched = new Set<string>();
function prefetch(url: string) {
  if (prefetched.has(url) || typeof Image === "undefined") return;
  prefetched.add(url);
  if (tokenInUse()) { // fetched with the header into the cache the panels read from
    blobUrl(url).catch(() => prefetched.delete(url));
    return;
  }
  const img = new Image();
  img.src = url;
  img.decode().catch(() => prefetched.delete(url)); // decoded ahead too; a failed load may be retried
}

function parsePins(values: string[]): Map<string, number> {
  const pins = new Map<string, number>();
  for (const value of values) {
    const at = value.lastIndexOf("@");
    const step = Number(value.slice(at + 1));
    if (at > 0 && Number.isFinite(step)) pins.set(value.slice(0, at), step);
  }
  return pins;
}

export default function Media() {
  const [params] = useSearchParams();
  const runIds = params.getAll("run");
  const stepParam = params.get("step");
  const cursor = stepParam === null || stepParam === "" ? null : Number(stepParam);
  const pins = useMemo(() => parsePins(params.getAll("pin")), [params]);

  const runs = useQueries({
    queries: runIds.map((uuid) => ({ queryKey: ["run", uuid], queryFn: ({ signal }: { signal: AbortSignal }) => getRun(uuid, signal) })),
  });
  const details = runs.map((r) => r.data).filter((r): r is RunDetail => !!r);
  const panels: Panel[] = useMemo(() => {
    const seen = new Map<string, Panel>();
    for (const run of details) {
      for (const [kind, names] of Object.entries(run.events)) {
        if (SKIP.has(kind)) continue;
        for (const name of names) seen.set(`${kind}:${name}`, { kind, name, key: `${kind}:${name}` });
      }
    }
    const order = (k: string) => (KIND_ORDER.includes(k) ? KIND_ORDER.indexOf(k) : KIND_ORDER.length);
    return [...seen.values()].sort((a, b) => order(a.kind) - order(b.kind) || a.name.localeCompare(b.name));
  }, [details.map((d) => d.uuid).join(",")]); // eslint-disable-line react-hooks/exhaustive-deps

  const wanted = panels.flatMap((p) => details.filter((d) => d.events[p.kind]?.includes(p.name)).map((d) => ({ panel: p, run: d.uuid })));
  const eventQueries = useQueries({
    queries: wanted.map(({ panel, run }) => ({
      queryKey: ["events", run, panel.kind, panel.name],
      queryFn: ({ signal }: { signal: AbortSignal }) => runEvents(run, panel.kind, panel.name, 10_000, signal),
      staleTime: 30_000,
    })),
  });
  const events = new Map<string, MediaEvent[]>();
  wanted.forEach(({ panel, run }, i) => {
    const data = eventQueries[i]?.data;
    if (data) events.set(`${run}|${panel.key}`, [...data].sort((a, b) => stepOf(a) - stepOf(b)));
  });
  const stepsOf = (run: string, key: string) => (events.get(`${run}|${key}`) ?? []).map(stepOf);
  const allSteps = unionSteps([...events.values()].map((list) => list.map(stepOf)));
  const step = cursor ?? (allSteps.length ? allSteps[allSteps.length - 1] : null);

  const update = useUpdateSearch();
  const setStep = useCallback((value: number | null) => update((next) => {
    if (value === null) next.delete("step");
    else next.set("step", String(value));
  }), [update]);
  const setPin = (key: string, value: number | null) => update((next) => {
    const kept = next.getAll("pin").filter((p) => p.slice(0, p.lastIndexOf("@")) !== key);
    next.delete("pin");
    kept.forEach((p) => next.append("pin", p));
    if (value !== null) next.append("pin", `${key}@${value}`);
  });

  // ←/→ move the cursor along the union of marks (Shift: ten marks), unless a text field has focus.
  const stepRef = useRef({ step, allSteps });
  stepRef.current = { step, allSteps };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
      const target = e.target as HTMLElement | null;
      if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT" || target.isContentEditable)) return;
      e.preventDefault();
      const { step: now, allSteps: marks } = stepRef.current;
      setStep(stepBy(marks, now, (e.key === "ArrowRight" ? 1 : -1) * (e.shiftKey ? 10 : 1)));
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [setStep]);

  const [playing, setPlaying] = useState(false);
  useEffect(() => {
    if (!playing) return;
    const timer = window.setInterval(() => {
      const { step: now, allSteps: marks } = stepRef.current;
      const next = stepBy(marks, now, 1);
      if (next === null || next === now) setPlaying(false);
      else setStep(next);
    }, 500);
    return () => window.clearInterval(timer);
  }, [playing, setStep]);

  // Prefetch: the image files of the two marks either side of each panel's shown step.
  useEffect(() => {
    if (step === null) return;
    for (const [id, list] of events) {
      const [run, key] = id.split("|");
      if (!PREFETCH.has(key.split(":")[0])) continue;
      const steps = list.map(stepOf);
      const at = nearestPrior(steps, pins.get(key) ?? step).index;
      for (const s of neighbours(steps, Math.max(at, 0), 2)) {
        const e = list[nearestPrior(steps, s).index];
        if (e?.file) prefetch(runFileUrl(run, e.file));
      }
    }
  });

  if (runIds.length === 0) return <p className="empty">No run chosen: open Media from a run or from Compare.</p>;
  const failed = runs.find((r) => r.isError);
  if (failed) return <ErrorBox error={failed.error} />;
  if (runs.some((r) => r.isPending)) return <Loading what="runs" />;

  const metricNames = [...new Set(details.flatMap((d) => Object.keys(d.metrics)))].sort();
  const colors = assignColors(details.map((d) => d.uuid)); // distinct, as on the compare page
  return (
    <div className="media-page" aria-busy={eventQueries.some((q) => q.isPending)}>
      <div className="page-head">
        <h1>Media</h1>
        <span className="counts">{details.map((d) => (
          <Link key={d.uuid} to={`/runs/${d.uuid}`} className="run-chip" style={{ borderColor: colors.get(d.uuid) }}>{d.name ?? d.uuid.slice(0, 8)}</Link>
        ))}</span>
        {details[0] ? <Link to={`/projects/${encodeURIComponent(details[0].project)}/artifacts`}>Artifacts</Link> : null}
      </div>
      <div className="cursor-bar" role="group" aria-label="Step cursor">
        <button onClick={() => setStep(stepBy(allSteps, step, -1))} aria-label="Previous step">←</button>
        <button onClick={() => setPlaying(!playing)} aria-label={playing ? "Pause" : "Play"}>{playing ? "❚❚" : "▶"}</button>
        <button onClick={() => setStep(stepBy(allSteps, step, 1))} aria-label="Next step">→</button>
        <input type="range" className="global-slider" aria-label="Global step" min={0} max={Math.max(0, allSteps.length - 1)}
               value={step === null ? 0 : Math.max(0, nearestPrior(allSteps, step).index)}
               onChange={(e) => setStep(allSteps[Number(e.target.value)] ?? null)} />
        <label>step <input type="number" className="step-input" value={step ?? ""} onChange={(e) => setStep(e.target.value === "" ? null : Number(e.target.value))} /></label>
        <span className="hint">{allSteps.length} marks · ←/→ (Shift ×10) · click the chart</span>
      </div>
      {metricNames.length ? <MetricStrip runs={details} names={metricNames} step={step} onStep={setStep} /> : null}
      {panels.length === 0 ? <p className="empty">These runs logged no media events.</p> : null}
      {panels.map((panel) => (
        <PanelRow key={panel.key} panel={panel} runs={details} step={step} pin={pins.get(panel.key) ?? null}
                  events={events} stepsOf={stepsOf} onStep={setStep} onPin={(v) => setPin(panel.key, v)} />
      ))}
    </div>
  );
}

function PanelRow({ panel, runs, step, pin, events, stepsOf, onStep, onPin }: {
  panel: Panel; runs: RunDetail[]; step: number | null; pin: number | null; events: Map<string, MediaEvent[]>;
  stepsOf: (run: string, key: string) => number[]; onStep: (s: number | null) => void; onPin: (s: number | null) => void;
}) {
  const present = runs.filter((r) => r.events[panel.kind]?.includes(panel.name));
  const colors = assignColors(runs.map((r) => r.uuid));
  const marks = unionSteps(present.map((r) => stepsOf(r.uuid, panel.key)));
  const shown = pin ?? step;
  const [mode, setMode] = useState<string>("side");
  const [view, setView] = useState<ImageView>(NO_ZOOM);
  const images = panel.kind === "image" && present.length >= 2;
  const histogram = panel.kind === "histogram";
  const Cell = CELLS[panel.kind] ?? FilesCell;
  const pick = (run: string) => {
    const list = events.get(`${run}|${panel.key}`);
    if (!list) return { list: null, match: null };
    return { list, match: shown === null ? null : nearestPrior(list.map(stepOf), shown) };
  };
  return (
    <section className="media-panel" data-panel={panel.key} aria-label={`${panel.kind} ${panel.name}`}>
      <header>
        <span className="tag">{panel.kind}</span> <strong>{panel.name}</strong>
        <input type="range" className="panel-slider" aria-label={`${panel.name} step`} min={0} max={Math.max(0, marks.length - 1)}
               value={shown === null ? 0 : Math.max(0, nearestPrior(marks, shown).index)}
               onChange={(e) => { const s = marks[Number(e.target.value)] ?? null; if (pin !== null) onPin(s); else onStep(s); }} />
        <span className="hint">{marks.length} steps</span>
        <button className={pin !== null ? "pin pinned" : "pin"} onClick={() => onPin(pin !== null ? null : shown)}
                aria-pressed={pin !== null} title="Keep this panel at its step while the cursor moves">
          {pin !== null ? `pinned at ${pin}` : "pin"}
        </button>
        {images ? (
          <select aria-label="Compare images" value={mode} onChange={(e) => setMode(e.target.value)}>
            <option value="side">side by side</option><option value="swipe">swipe</option><option value="difference">difference</option>
          </select>
        ) : null}
        {histogram ? (
          <select aria-label="Histogram view" value={mode} onChange={(e) => setMode(e.target.value)}>
            <option value="side">this step</option><option value="ridge">all steps: ridge</option><option value="heatmap">all steps: heat map</option>
          </select>
        ) : null}
      </header>
      {images && (mode === "swipe" || mode === "difference") ? (
        (() => {
          const [a, b] = present.map((r) => ({ run: r.uuid, ...pick(r.uuid) }));
          const ea = a.match && a.list && a.match.index >= 0 ? a.list[a.match.index] : null;
          const eb = b.match && b.list && b.match.index >= 0 ? b.list[b.match.index] : null;
          return ea && eb
            ? <ImageCompare left={{ run: a.run, event: ea }} right={{ run: b.run, event: eb }} mode={mode} />
            : <p className="empty">Both runs need an image at or before step {shown}.</p>;
        })()
      ) : (
        <div className="cells" style={{ gridTemplateColumns: `repeat(${Math.min(present.length, 4)}, minmax(0, 1fr))` }}>
          {present.map((run) => {
            const { list, match } = pick(run.uuid);
            const event = list && match && match.index >= 0 ? list[match.index] : null;
            return (
              <div key={run.uuid} className="cell" data-run={run.uuid} data-shown-step={event ? stepOf(event) : ""}
                   data-exact={match ? String(match.exact) : ""}>
                <div className="cell-head">
                  <span className="run-dot" style={{ background: colors.get(run.uuid) }} />
                  <span className="cell-run">{run.name ?? run.uuid.slice(0, 8)}</span>
                  {event ? (
                    match!.exact
                      ? <span className="step-mark">step {stepOf(event)}</span>
                      : <span className="step-mark approx" title={`No ${panel.kind} at step ${shown}: showing the nearest step before it`}>≈ step {stepOf(event)}</span>
                  ) : null}
                </div>
                {!list ? <div className="loading">Loading…</div>
                  : histogram && mode !== "side" ? <HistogramSteps events={list} mode={mode as "ridge" | "heatmap"} current={event ? stepOf(event) : null} />
                  : event ? <Cell run={run.uuid} name={panel.name} event={event} view={view} onView={setView} />
                  : <p className="empty no-step">Nothing at or before step {shown} (first: {list[0] ? stepOf(list[0]) : "none"}).</p>}
              </div>
            );
          })}
        </div>
      )}
    </section>
  );
}

/** One metric of every run as small lines; a click sets the cursor to the nearest logged step. */
function MetricStrip({ runs, names, step, onStep }: { runs: RunDetail[]; names: string[]; step: number | null; onStep: (s: number) => void }) {
  const colors = assignColors(runs.map((r) => r.uuid));
  // The metric most runs have, a loss first among equals.
  const [name, setName] = useState(() => {
    const runsWith = (n: string) => runs.filter((r) => r.metrics[n]).length * 2 + (/loss/.test(n) ? 1 : 0);
    return [...names].sort((a, b) => runsWith(b) - runsWith(a))[0];
  });
  const series = useQuery({
    queryKey: ["media-metric", runs.map((r) => r.uuid).join(","), name],
    queryFn: ({ signal }) => Promise.all(runs.filter((r) => r.metrics[name]).map((r) => metricSeries(r.uuid, name, { points: 400 }, signal))),
  });
  const lines = (series.data ?? []).map((s) => s.x.map((x, i) => [x, s.y[i]] as const).filter((p): p is readonly [number, number] => p[0] !== null && p[1] !== null && Number.isFinite(p[1])));
  const xs = lines.flat().map((p) => p[0]);
  const ys = lines.flat().map((p) => p[1]);
  const W = 900;
  const H = 110;
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const y0 = Math.min(...ys);
  const y1 = Math.max(...ys);
  const sx = (x: number) => 30 + ((x - x0) / (x1 - x0 || 1)) * (W - 40);
  const sy = (y: number) => H - 14 - ((y - y0) / (y1 - y0 || 1)) * (H - 24);
  const points = [...new Set(xs)].sort((a, b) => a - b);
  return (
    <div className="metric-strip">
      <select aria-label="Metric" value={name} onChange={(e) => setName(e.target.value)}>{names.map((n) => <option key={n}>{n}</option>)}</select>
      {xs.length ? (
        <svg viewBox={`0 0 ${W} ${H}`} className="metric-chart" aria-label="Metric chart (click to set the step)"
             onClick={(e) => {
               const svg = e.currentTarget as SVGSVGElement;
               const matrix = svg.getScreenCTM();
               if (!matrix) return;
               const at = new DOMPoint(e.clientX, e.clientY).matrixTransform(matrix.inverse());
               const x = x0 + ((at.x - 30) / (W - 40)) * (x1 - x0);
               let best = points[0];
               for (const p of points) if (Math.abs(p - x) < Math.abs(best - x)) best = p;
               onStep(Math.round(best));
             }}>
          {lines.map((line, i) => (
            <polyline key={i} points={line.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ")} stroke={colors.get(series.data![i].run)} />
          ))}
          {step !== null && Number.isFinite(x0) ? <line className="cursor-line" x1={sx(step)} x2={sx(step)} y1={4} y2={H - 12} /> : null}
          <text x={30} y={H - 2}>{Number.isFinite(x0) ? x0 : ""}</text>
          <text x={W - 10} y={H - 2} textAnchor="end">{Number.isFinite(x1) ? x1 : ""}</text>
        </svg>
      ) : <span className="hint">{series.isPending ? "Loading…" : "no points"}</span>}
    </div>
  );
}
