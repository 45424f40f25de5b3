/**
 * Panels for file-backed events: images (boxes, zoom and pan, swipe and difference), audio with its
 * waveform, video, logged HTML and charts (sandboxed pages), text, and files (models, artifacts).
 */
import { useEffect, useRef, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import type { Json, JsonDict } from "../../api";
import { ApiAudio, ApiImg, ApiVideo, DownloadLink, SandboxFrame, useLoadableUrl } from "../Authed";
import { renderUrl, runFileBytes, runFileUrl, type MediaEvent } from "../../api2";

export interface CellProps {
  run: string;
  name: string;
  event: MediaEvent;
  /** Shared by every image of one panel row: zoom and pan move together. */
  view?: ImageView;
  onView?: (view: ImageView) => void;
}

const obj = (v: Json): JsonDict => (v && typeof v === "object" && !Array.isArray(v) ? v : {});

export interface ImageView {
  zoom: number;
  x: number;
  y: number;
}

export const NO_ZOOM: ImageView = { zoom: 1, x: 0, y: 0 };

/** The most a cell's image is tall, in CSS pixels (small images are scaled up to it). */
const IMAGE_HEIGHT = 300;

interface Box {
  box: number[];
  label?: string;
  score?: number;
}

/** An image; wheel zooms, drag pans, both shared with the row; stored boxes drawn on a toggle. */
export function ImageCell({ run, event, view = NO_ZOOM, onView }: CellProps) {
  const value = obj(event.value);
  const boxes = Array.isArray(value.boxes) ? (value.boxes as unknown as Box[]) : [];
  const [showBoxes, setShowBoxes] = useState(true);
  const drag = useRef<{ x: number; y: number; view: ImageView } | null>(null);
  const frame = useRef<HTMLDivElement>(null);
  const latest = useRef({ view, onView });
  latest.current = { view, onView };
  // A native listener: React's wheel listeners are passive, and zooming must not scroll the page.
  useEffect(() => {
    const element = frame.current;
    if (!element) return;
    const onWheel = (e: WheelEvent) => {
      const { view: now, onView: set } = latest.current;
      if (!set) return;
      e.preventDefault();
      const zoom = Math.min(32, Math.max(1, now.zoom * (e.deltaY < 0 ? 1.25 : 0.8)));
      set(zoom === 1 ? NO_ZOOM : { ...now, zoom });
    };
    element.addEventListener("wheel", onWheel, { passive: false });
    return () => element.removeEventListener("wheel", onWheel);
  }, []);
  // With boxes stored, the raw image is shown and boxes are drawn over it (so they can be hidden).
  const path = boxes.length && typeof value.raw_path === "string" ? value.raw_path : event.file;
  const width = Number(value.width) || 1;
  const height = Number(value.height) || 1;
  if (!path) return <p className="empty">No image file.</p>;
  return (
    <div className="image-cell">
      <div
        ref={frame}
        className="zoom-frame"
        onPointerDown={(e) => { drag.current = { x: e.clientX, y: e.clientY, view }; (e.target as Element).setPointerCapture?.(e.pointerId); }}
        onPointerMove={(e) => {
          const start = drag.current;
          if (!start || !onView || view.zoom === 1) return;
          onView({ ...start.view, x: start.view.x + (e.clientX - start.x), y: start.view.y + (e.clientY - start.y) });
        }}
        onPointerUp={() => { drag.current = null; }}
        onDoubleClick={() => onView?.(NO_ZOOM)}
      >
        <div className="zoom-inner" style={{
          transform: `translate(${view.x}px, ${view.y}px) scale(${view.zoom})`,
          // the box of the picture itself, so stored boxes drawn over it line up at any size
          aspectRatio: `${width} / ${height}`, width: `min(100%, ${(IMAGE_HEIGHT * width) / height}px)`,
        }}>
          <ApiImg src={runFileUrl(run, path)} alt={`step ${event.step}`} draggable={false} data-step={event.step ?? ""} />
          {showBoxes && boxes.length ? (
            <svg className="boxes" viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" aria-label="Boxes">
              {boxes.map((b, i) => (
                <g key={i}>
                  <rect x={b.box[0]} y={b.box[1]} width={b.box[2] - b.box[0]} height={b.box[3] - b.box[1]} />
                  {b.label !== undefined ? <text x={b.box[0] + 2} y={b.box[1] + 10}>{b.label}{b.score !== undefined ? ` ${Number(b.score).toFixed(2)}` : ""}</text> : null}
                </g>
              ))}
            </svg>
          ) : null}
        </div>
      </div>
      <div className="cell-tools">
        {boxes.length ? (
          <label><input type="checkbox" checked={showBoxes} onChange={(e) => setShowBoxes(e.target.checked)} /> boxes ({boxes.length})</label>
        ) : null}
        {view.zoom !== 1 ? <button className="link" onClick={() => onView?.(NO_ZOOM)}>reset zoom ×{view.zoom.toFixed(1)}</button> : null}
      </div>
    </div>
  );
}

/** Two images of the same panel compared: `swipe` (a divider) or `difference` (|a − b| per pixel). */
export function ImageCompare({ left, right, mode }: { left: { run: string; event: MediaEvent }; right: { run: string; event: MediaEvent }; mode: "swipe" | "difference" }) {
  const [at, setAt] = useState(50);
  const canvas = useRef<HTMLCanvasElement>(null);
  const a = useLoadableUrl(left.event.file ? runFileUrl(left.run, left.event.file) : null);
  const b = useLoadableUrl(right.event.file ? runFileUrl(right.run, right.event.file) : null);
  const [diff, setDiff] = useState<number | null>(null);
  useEffect(() => {
    if (mode !== "difference" || !a || !b || !canvas.current) return;
    let live = true;
    const load = (src: string) => new Promise<HTMLImageElement>((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = () => reject(new Error(`could not load ${src}`));
      img.src = src;
    });
    Promise.all([load(a), load(b)]).then(([ia, ib]) => {
      const c = canvas.current;
      if (!live || !c) return;
      const w = Math.max(ia.naturalWidth, ib.naturalWidth);
      const h = Math.max(ia.naturalHeight, ib.naturalHeight);
      c.width = w;
      c.height = h;
      const ctx = c.getContext("2d", { willReadFrequently: true })!;
      ctx.drawImage(ia, 0, 0);
      const pa = ctx.getImageData(0, 0, w, h);
      ctx.clearRect(0, 0, w, h);
      ctx.drawImage(ib, 0, 0);
      const pb = ctx.getImageData(0, 0, w, h);
      let total = 0;
      for (let i = 0; i < pa.data.length; i += 4) {
        for (let k = 0; k < 3; k++) {
          const d = Math.abs(pa.data[i + k] - pb.data[i + k]);
          pb.data[i + k] = d;
          total += d;
        }
        pb.data[i + 3] = 255;
      }
      ctx.putImageData(pb, 0, 0);
      setDiff(total / (w * h * 3));
    }).catch(() => setDiff(null));
    return () => { live = false; };
  }, [a, b, mode]);
  if (!a || !b) return <p className="empty">Both runs need an image at this step.</p>;
  if (mode === "difference") {
    return (
      <div className="image-compare">
        <canvas ref={canvas} className="diff-canvas" aria-label="Difference" />
        <div className="hint">mean |a − b| per channel: {diff === null ? "…" : diff.toFixed(2)}</div>
      </div>
    );
  }
  return (
    <div className="image-compare">
      <div className="swipe" aria-label="Swipe">
        <img src={b} alt="right" draggable={false} />
        <img src={a} alt="left" draggable={false} style={{ clipPath: `inset(0 ${100 - at}% 0 0)` }} className="swipe-top" />
        <div className="swipe-line" style={{ left: `${at}%` }} />
      </div>
      <input type="range" min={0} max={100} value={at} onChange={(e) => setAt(Number(e.target.value))} aria-label="Swipe position" />
    </div>
  );
}

/** 16-bit PCM WAV → peaks per pixel column (min, max), or null for other encodings. */
export function wavPeaks(bytes: ArrayBuffer, columns: number): [number, number][] | null {
  const view = new DataView(bytes);
  if (bytes.byteLength < 44 || view.getUint32(0, false) !== 0x52494646) return null; // "RIFF"
  let offset = 12;
  let channels = 1;
  let bits = 16;
  while (offset + 8 <= bytes.byteLength) {
    const id = view.getUint32(offset, false);
    const size = view.getUint32(offset + 4, true);
    if (id === 0x666d7420) { // "fmt "
      channels = view.getUint16(offset + 10, true);
      bits = view.getUint16(offset + 22, true);
    } else if (id === 0x64617461) { // "data"
      if (bits !== 16) return null;
      const frames = Math.floor(Math.min(size, bytes.byteLength - offset - 8) / (2 * channels));
      const per = Math.max(1, Math.floor(frames / columns));
      const out: [number, number][] = [];
      for (let c = 0; c * per < frames && c < columns; c++) {
        let lo = 1;
        let hi = -1;
        for (let f = c * per; f < Math.min(frames, (c + 1) * per); f++) {
          const v = view.getInt16(offset + 8 + f * 2 * channels, true) / 32768;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        out.push([lo, hi]);
      }
      return out;
    }
    offset += 8 + size + (size % 2);
  }
  return null;
}

export function AudioCell({ run, event }: CellProps) {
  const value = obj(event.value);
  const file = event.file;
  const peaks = useQuery({
    queryKey: ["wave", run, file],
    enabled: !!file && value.content_type === "wav",
    queryFn: async ({ signal }) => wavPeaks(await runFileBytes(run, file!, signal), 300),
    staleTime: Infinity,
  });
  if (!file) return <p className="empty">No audio file.</p>;
  return (
    <div className="audio-cell">
      {peaks.data ? (
        <svg className="waveform" viewBox={`0 0 ${peaks.data.length} 100`} preserveAspectRatio="none" aria-label="Waveform">
          {peaks.data.map(([lo, hi], i) => <line key={i} x1={i + 0.5} x2={i + 0.5} y1={50 - hi * 48} y2={50 - lo * 48 + 0.5} />)}
        </svg>
      ) : null}
      <ApiAudio controls preload="metadata" src={runFileUrl(run, file)} />
      <div className="hint">{value.sample_rate ? `${value.sample_rate} Hz` : ""} {value.length_frames && value.sample_rate ? `· ${(Number(value.length_frames) / Number(value.sample_rate)).toFixed(2)} s` : ""}</div>
    </div>
  );
}

export function VideoCell({ run, event }: CellProps) {
  const value = obj(event.value);
  if (!event.file) return <p className="empty">No video file.</p>;
  const url = runFileUrl(run, event.file);
  // GIFs play as images; other containers in the video element.
  return value.content_type === "gif" || event.file.endsWith(".gif")
    ? <ApiImg className="video-gif" src={url} alt={`video at step ${event.step}`} />
    : <ApiVideo className="video" controls preload="metadata" src={url} />;
}

export function TextCell({ event }: CellProps) {
  return <pre className="text-cell">{typeof event.value === "string" ? event.value : JSON.stringify(event.value, null, 2)}</pre>;
}

/** Logged HTML: the server's sandboxed page, scripts off, in a frame with no same-origin rights. */
export function HtmlCell({ run, name, event }: CellProps) {
  return <SandboxFrame className="html-frame" kind="html" title={`${name} at step ${event.step}`} src={renderUrl(run, "html", name, event.step)} />;
}

/** A plotly / vega / bokeh chart drawn by its own library in a sandboxed page (opaque origin). */
export function ChartCell({ run, name, event }: CellProps) {
  const kind = String(obj(event.value).kind ?? "");
  return (
    <div className="chart-cell">
      <SandboxFrame className="chart-frame" kind="chart" title={`${name} (${kind}) at step ${event.step}`}
                    src={renderUrl(run, "chart", name, event.step)} data-kind={kind} />
    </div>
  );
}

/** Models and artifacts logged with a step: what was stored, with a download link. */
export function FilesCell({ run, event }: CellProps) {
  const value = obj(event.value);
  const entries = Object.entries(value).filter(([k]) => k !== "path");
  return (
    <div className="files-cell">
      {event.file ? (
        <ul className="file-list">
          <li><code>{event.file}</code> <DownloadLink href={runFileUrl(run, event.file, true)}>download</DownloadLink></li>
        </ul>
      ) : null}
      {entries.length ? <pre className="text-cell">{entries.map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`).join("\n")}</pre> : null}
    </div>
  );
}
