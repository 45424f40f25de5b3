/**
 * A uPlot line chart of one metric for one or more runs (this module and uPlot load only with a
 * chart view). Each run is three uPlot series: the line, and the bucket min and max with the band
 * between them filled. Drag across the chart to zoom (the caller re-reads that range from the
 * server at full resolution); double-click to zoom out. Non-finite values are marked with red
 * ticks under the x-axis.
 */
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { XAxis } from "../api";
import { formatDuration, formatNumber, formatTicks, formatWithUnit } from "../format";
import { chartData, type Line, type Value } from "../series";

export interface ChartLine {
  key: string;
  label: string;
  color: string;
  line: Line;
}

interface Props {
  lines: ChartLine[];
  xAxis: XAxis;
  smoothing: number;
  log: boolean;
  height?: number;
  /** Draw the min-max bands up to this many lines (a group's band is its only extreme: always). */
  bandsUpTo?: number;
  /** The y values' unit (resourceUnit): ticks and hover values are written in it. */
  unit?: string;
  onZoom: (range: [number, number] | null) => void;
}

/** Charts of runs' lines with more lines than this draw no min-max bands (see below). */
export const BANDS_UP_TO = 10;

export function withAlpha(color: string, alpha: number): string {
  if (color.startsWith("#") && color.length === 7) return color + Math.round(alpha * 255).toString(16).padStart(2, "0");
  if (color.startsWith("hsl(")) return color.replace("hsl(", "hsla(").replace(")", `, ${alpha})`);
  return color;
}

function formatX(axis: XAxis, value: number): string {
  if (axis === "wall") return new Date(value * 1000).toLocaleString();
  if (axis === "relative") return formatDuration(value);
  return formatNumber(value);
}

function nearestDefined(values: (number | null | undefined)[], index: number): number | null | undefined {
  for (let d = 0; d < 64; d++) {
    for (const i of [index - d, index + d]) if (i >= 0 && i < values.length && values[i] !== undefined) return values[i];
  }
  return undefined;
}

export default function Chart({ lines, xAxis, smoothing, log, height = 220, bandsUpTo = BANDS_UP_TO, unit = "", onZoom }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const tip = useRef<HTMLDivElement>(null);
  const zoom = useRef(onZoom);
  zoom.current = onZoom;

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const data = chartData(lines.map((l) => l.line), { smoothing, log });
    const series: uPlot.Series[] = [{ label: xAxis }];
    const bands: uPlot.Band[] = [];
    // Past BANDS_UP_TO lines the min-max bands are not drawn (their values stay in the data and the
    // hover): a hundred overlapping bands are a grey wash that costs most of the drawing, and each
    // line still passes through its buckets' min and max (series.ts), so no spike is lost.
    const banded = lines.length <= bandsUpTo;
    lines.forEach((l, i) => {
      series.push({ label: l.label, stroke: l.color, width: 1.5, spanGaps: false });
      series.push({ label: `${l.label} min`, stroke: withAlpha(l.color, 0.35), width: 0.5, points: { show: false }, show: banded });
      series.push({ label: `${l.label} max`, stroke: withAlpha(l.color, 0.35), width: 0.5, points: { show: false }, show: banded });
      if (banded) bands.push({ series: [3 * i + 3, 3 * i + 2], fill: withAlpha(l.color, 0.18) });
    });
    const marks = lines.map((l) => ({ color: l.color, xs: l.line.nonFinite }));

    const showTip = (u: uPlot) => {
      const el = tip.current;
      const idx = u.cursor.idx;
      if (!el) return;
      if (idx === null || idx === undefined || u.cursor.left === undefined || u.cursor.left < 0) {
        el.style.display = "none";
        return;
      }
      const x = u.data[0][idx];
      // built from DOM nodes, not HTML: run names are text, and no inline style attribute is
      // needed (a strict Content-Security-Policy allows only styles set through the DOM)
      const line = (cls: string, ...children: (Node | string)[]) => {
        const div = document.createElement("div");
        div.className = cls;
        div.append(...children);
        return div;
      };
      const rows = lines.slice(0, 20).map((l, i) => {
        const y = nearestDefined(u.data[3 * i + 1] as (number | null | undefined)[], idx);
        const lo = nearestDefined(u.data[3 * i + 2] as (number | null | undefined)[], idx);
        const hi = nearestDefined(u.data[3 * i + 3] as (number | null | undefined)[], idx);
        const swatch = document.createElement("i");
        swatch.style.background = l.color;
        const value = document.createElement("b");
        value.textContent = y === null ? "NaN/inf" : y === undefined ? "–" : formatWithUnit(y, unit);
        const band = document.createElement("span");
        band.className = "band";
        if (typeof lo === "number" && typeof hi === "number" && lo !== hi) band.textContent = ` [${formatWithUnit(lo, unit)} … ${formatWithUnit(hi, unit)}]`;
        return line("", swatch, `${l.label}: `, value, band);
      });
      if (lines.length > 20) rows.push(line("", `… ${lines.length - 20} more`));
      el.replaceChildren(line("x", `${xAxis} ${formatX(xAxis, x as number)}`), ...rows);
      el.style.display = "block";
      const left = u.cursor.left + 12;
      el.style.left = `${Math.min(left, element.clientWidth - el.offsetWidth - 4)}px`;
      el.style.top = `${(u.cursor.top ?? 0) + 12}px`;
    };

    const options: uPlot.Options = {
      width: Math.max(element.clientWidth, 200),
      height,
      legend: { show: false },
      series,
      bands,
      scales: {
        x: { time: xAxis === "wall" },
        y: log ? { distr: 3 } : {},
      },
      axes: [
        { values: xAxis === "relative" ? (_u, ticks) => ticks.map((t) => formatDuration(t)) : undefined },
        {
          // wide enough for the longest tick label (1000000 must not lose its first digit)
          size: (_u, values) => Math.max(44, 18 + 8.5 * Math.max(0, ...(values ?? []).map((v) => String(v).length))),
          values: (_u, ticks) => formatTicks(ticks, unit),
        },
      ],
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width > 4) {
              const lo = u.posToVal(u.select.left, "x");
              const hi = u.posToVal(u.select.left + u.select.width, "x");
              zoom.current([lo, hi]);
            }
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          },
        ],
        setCursor: [showTip],
        draw: [
          (u) => {
            // how many lines have a point to draw: tests and benchmarks read it from the page
            let drawn = 0;
            for (let i = 1; i < u.data.length; i += 3) if ((u.data[i] as Value[]).some((v) => typeof v === "number")) drawn++;
            element.dataset.drawn = String(drawn);
            const ctx = u.ctx;
            const bottom = u.bbox.top + u.bbox.height;
            ctx.save();
            for (const mark of marks) {
              ctx.fillStyle = "#d00";
              ctx.strokeStyle = mark.color;
              for (const x of mark.xs) {
                const px = u.valToPos(x, "x", true);
                if (px < u.bbox.left || px > u.bbox.left + u.bbox.width) continue;
                ctx.beginPath();
                ctx.moveTo(px, bottom - 9 * devicePixelRatio);
                ctx.lineTo(px - 4 * devicePixelRatio, bottom);
                ctx.lineTo(px + 4 * devicePixelRatio, bottom);
                ctx.closePath();
                ctx.fill();
                ctx.stroke();
              }
            }
            ctx.restore();
          },
        ],
      },
    };
    const plot = new uPlot(options, data as uPlot.AlignedData, element);
    const reset = () => zoom.current(null);
    plot.over.addEventListener("dblclick", reset);
    plot.over.addEventListener("mouseleave", () => tip.current && (tip.current.style.display = "none"));
    const resize = new ResizeObserver(() => {
      const width = Math.max(element.clientWidth, 200);
      if (width !== plot.width) plot.setSize({ width, height });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [lines, xAxis, smoothing, log, height, bandsUpTo, unit]);

  return (
    <div className="chart" data-series={lines.length}>
      <div ref={box} className="chart-canvas" />
      <div ref={tip} className="chart-tip" />
    </div>
  );
}
