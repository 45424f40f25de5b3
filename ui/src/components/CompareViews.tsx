/** The compare page's SVG views: parallel coordinates over params and a metric, and a scatter. */
import type { RunRow } from "../api";
import { parallelAxes, scatterPoints, type Attr } from "../compareViews";
import { formatNumber } from "../format";

const W = 640;
const H = 300;
const PAD = { left: 50, right: 30, top: 28, bottom: 36 };

interface Common {
  runs: RunRow[];
  colors: Map<string, string>;
  labels: Map<string, string>;
  metric: string | null;
  attr: Attr;
}

function clip(text: string, chars: number): string {
  return text.length > chars ? `${text.slice(0, Math.max(1, chars - 1))}…` : text;
}

export function ParallelCoordinates({ runs, colors, labels, metric, attr, params }: Common & { params: string[] }) {
  const axes = parallelAxes(runs, params, metric, attr);
  if (axes.length < 2) return <p className="empty">Parallel coordinates need at least two params or a param and a metric.</p>;
  const width = Math.max(W, axes.length * 110);
  const right = 70; // room for the last axis' tick labels
  const step = (width - PAD.left - right) / (axes.length - 1);
  const y = (at: number) => PAD.top + (1 - at) * (H - PAD.top - PAD.bottom);
  return (
    <svg className="parallel" role="img" aria-label="Parallel coordinates" width={width} height={H} viewBox={`0 0 ${width} ${H}`}>
      {runs.map((run) => {
        const points = axes.map((a, i) => [PAD.left + i * step, a.at(run)] as const);
        const segments: string[] = [];
        let pen = "M";
        for (const [px, at] of points) {
          if (at === null) { pen = "M"; continue; }
          segments.push(`${pen}${px.toFixed(1)},${y(at).toFixed(1)}`);
          pen = "L";
        }
        return (
          <path key={run.uuid} d={segments.join(" ")} fill="none" stroke={colors.get(run.uuid) ?? "#555"} strokeWidth={1.5}
                strokeOpacity={0.8} data-run={run.uuid}>
            <title>{labels.get(run.uuid)}</title>
          </path>
        );
      })}
      {axes.map((a, i) => {
        const px = PAD.left + i * step;
        const ticks = a.numeric ? [0, 0.5, 1].map((t) => [t, formatNumber(a.lo + t * (a.hi - a.lo))] as const)
          : a.categories.map((c, j) => [a.categories.length <= 1 ? 0.5 : j / (a.categories.length - 1), c] as const);
        const room = Math.max(6, Math.floor((i === axes.length - 1 ? right : step) / 6.5)); // characters that fit before the next axis
        return (
          <g key={a.key} className="axis">
            <line x1={px} x2={px} y1={y(0)} y2={y(1)} />
            <text x={px} y={14} textAnchor="middle" fontWeight={600}>{clip(a.label, Math.floor(step / 7))}<title>{a.label}</title></text>
            {ticks.slice(0, 12).map(([t, text]) => (
              <text key={`${t}-${text}`} x={px + 4} y={y(t) + 4}>{clip(text, room)}<title>{text}</title></text>
            ))}
          </g>
        );
      })}
    </svg>
  );
}

export function Scatter({ runs, colors, labels, metric, attr, param }: Common & { param: string }) {
  if (!metric) return <p className="empty">No metric to plot.</p>;
  const { points, axis } = scatterPoints(runs, param, metric, attr);
  if (points.length === 0) return <p className="empty">No run has both {param} and {metric}.</p>;
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const pad = (lo: number, hi: number) => (hi === lo ? [lo - 1, hi + 1] : [lo - (hi - lo) * 0.05, hi + (hi - lo) * 0.05]);
  const [x0, x1] = axis.numeric ? pad(Math.min(...xs), Math.max(...xs)) : [-0.5, axis.categories.length - 0.5];
  const [y0, y1] = pad(Math.min(...ys), Math.max(...ys));
  const sx = (v: number) => PAD.left + ((v - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const sy = (v: number) => PAD.top + (1 - (v - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);
  // ticks over the values' own range (the plot is padded around it): 32 … 64, not 30.4 … 65.6
  const between = (lo: number, hi: number) => (hi === lo ? [lo] : [0, 0.25, 0.5, 0.75, 1].map((t) => lo + t * (hi - lo)));
  const xTicks = axis.numeric ? between(Math.min(...xs), Math.max(...xs)).map((v) => [v, formatNumber(v)] as const)
    : axis.categories.map((c, i) => [i, c] as const);
  const yTicks = between(Math.min(...ys), Math.max(...ys));
  return (
    <svg className="scatter" role="img" aria-label="Scatter" width={W} height={H} viewBox={`0 0 ${W} ${H}`}>
      <g className="axis">
        <line x1={PAD.left} x2={W - PAD.right} y1={H - PAD.bottom} y2={H - PAD.bottom} />
        <line x1={PAD.left} x2={PAD.left} y1={PAD.top} y2={H - PAD.bottom} />
        {xTicks.slice(0, 20).map(([v, text]) => <text key={`x${v}`} x={sx(v)} y={H - PAD.bottom + 14} textAnchor="middle">{text}</text>)}
        {yTicks.map((v) => <text key={`y${v}`} x={PAD.left - 4} y={sy(v) + 4} textAnchor="end">{formatNumber(v)}</text>)}
        <text x={(W + PAD.left) / 2} y={H - 4} textAnchor="middle" fontWeight={600}>{param}</text>
        <text x={PAD.left} y={14} fontWeight={600}>{metric} ({attr})</text>
      </g>
      {points.map((p) => (
        <circle key={p.run} cx={sx(p.x)} cy={sy(p.y)} r={5} fill={colors.get(p.run) ?? "#555"} fillOpacity={0.85} data-run={p.run}>
          <title>{`${labels.get(p.run)}: ${param} = ${formatNumber(p.x)}, ${metric} = ${formatNumber(p.y)}`}</title>
        </circle>
      ))}
    </svg>
  );
}
