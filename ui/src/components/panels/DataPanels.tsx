/**
 * Panels for data events: histograms (one step, or every step as a ridge plot), curves (ROC, PR,
 * custom) with their AUC, confusion matrices as heat maps, dataframes as paged tables, and
 * traces as trees of spans. Drawn as SVG and HTML: no chart library is loaded for them.
 */
import { useMemo, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import type { Json, JsonDict } from "../../api";
import { runFileText, runFileUrl, runTable, type MediaEvent } from "../../api2";
import { DownloadLink } from "../Authed";
import { ErrorBox } from "../Layout";
import type { CellProps } from "./MediaPanels";

const obj = (v: Json): JsonDict => (v && typeof v === "object" && !Array.isArray(v) ? v : {});
const nums = (v: Json | undefined): number[] => (Array.isArray(v) ? v.map((x) => (typeof x === "number" ? x : NaN)) : []);
const fmt = (v: number) => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(2) : String(+v.toFixed(3)));

const W = 320;
const H = 180;
const PAD = { l: 38, r: 8, t: 8, b: 22 };

function Axes({ x0, x1, y0, y1, xLabel, yLabel }: { x0: number; x1: number; y0: number; y1: number; xLabel?: string; yLabel?: string }) {
  return (
    <g className="axes">
      <line x1={PAD.l} x2={W - PAD.r} y1={H - PAD.b} y2={H - PAD.b} />
      <line x1={PAD.l} x2={PAD.l} y1={PAD.t} y2={H - PAD.b} />
      <text x={PAD.l} y={H - 6}>{fmt(x0)}</text>
      <text x={W - PAD.r} y={H - 6} textAnchor="end">{fmt(x1)}</text>
      <text x={PAD.l - 3} y={H - PAD.b} textAnchor="end">{fmt(y0)}</text>
      <text x={PAD.l - 3} y={PAD.t + 8} textAnchor="end">{fmt(y1)}</text>
      {xLabel ? <text x={(W + PAD.l) / 2} y={H - 6} textAnchor="middle">{xLabel}</text> : null}
      {yLabel ? <text x={10} y={H / 2} transform={`rotate(-90 10 ${H / 2})`} textAnchor="middle">{yLabel}</text> : null}
    </g>
  );
}

export function HistogramCell({ event }: CellProps) {
  const value = obj(event.value);
  const edges = nums(value.edges);
  const counts = nums(value.counts);
  if (edges.length < 2 || counts.length === 0) return <p className="empty">Empty histogram.</p>;
  const max = Math.max(...counts, 1);
  const x0 = edges[0];
  const x1 = edges[edges.length - 1];
  const sx = (x: number) => PAD.l + ((x - x0) / (x1 - x0 || 1)) * (W - PAD.l - PAD.r);
  const sy = (y: number) => H - PAD.b - (y / max) * (H - PAD.t - PAD.b);
  return (
    <svg className="plot histogram" viewBox={`0 0 ${W} ${H}`} aria-label="Histogram">
      <Axes x0={x0} x1={x1} y0={0} y1={max} />
      {counts.map((c, i) => (
        <rect key={i} x={sx(edges[i])} y={sy(c)} width={Math.max(0.5, sx(edges[i + 1]) - sx(edges[i]) - 0.5)} height={H - PAD.b - sy(c)}>
          <title>{`[${fmt(edges[i])}, ${fmt(edges[i + 1])}): ${c}`}</title>
        </rect>
      ))}
    </svg>
  );
}

/** Every step of a histogram at once: a ridge plot (one outline per step) or a heat map. */
export function HistogramSteps({ events, mode, current }: { events: MediaEvent[]; mode: "ridge" | "heatmap"; current: number | null }) {
  const hists = events.map((e) => ({ step: e.step, edges: nums(obj(e.value).edges), counts: nums(obj(e.value).counts) }))
    .filter((h) => h.edges.length > 1);
  if (!hists.length) return <p className="empty">No histograms.</p>;
  const x0 = Math.min(...hists.map((h) => h.edges[0]));
  const x1 = Math.max(...hists.map((h) => h.edges[h.edges.length - 1]));
  const height = Math.max(H, Math.min(600, hists.length * 14 + 40));
  const sx = (x: number) => PAD.l + ((x - x0) / (x1 - x0 || 1)) * (W - PAD.l - PAD.r);
  const row = (height - PAD.t - PAD.b) / hists.length;
  if (mode === "heatmap") {
    return (
      <svg className="plot heatmap" viewBox={`0 0 ${W} ${height}`} aria-label="Histogram heat map">
        {hists.map((h, r) => {
          const max = Math.max(...h.counts, 1);
          return (
            <g key={r}>
              <text x={PAD.l - 3} y={PAD.t + r * row + row * 0.8} textAnchor="end" className={h.step === current ? "current" : ""}>{h.step}</text>
              {h.counts.map((c, i) => (
                <rect key={i} x={sx(h.edges[i])} y={PAD.t + r * row} width={Math.max(0.5, sx(h.edges[i + 1]) - sx(h.edges[i]))} height={row}
                      fill={`rgba(31, 95, 191, ${(c / max).toFixed(3)})`} />
              ))}
            </g>
          );
        })}
      </svg>
    );
  }
  const ridge = row * 2.5;
  return (
    <svg className="plot ridge" viewBox={`0 0 ${W} ${height}`} aria-label="Histogram ridge plot">
      {hists.map((h, r) => {
        const max = Math.max(...h.counts, 1);
        const base = PAD.t + (r + 1) * row + ridge - row;
        const points = h.counts.map((c, i) => `${sx((h.edges[i] + h.edges[i + 1]) / 2)},${base - (c / max) * ridge}`);
        const d = `M${sx(h.edges[0])},${base} L${points.join(" L")} L${sx(h.edges[h.edges.length - 1])},${base} Z`;
        return (
          <g key={r} className={h.step === current ? "current" : ""}>
            <path d={d} />
            <text x={PAD.l - 3} y={base} textAnchor="end">{h.step}</text>
          </g>
        );
      })}
    </svg>
  );
}

export function CurveCell({ event }: CellProps) {
  const value = obj(event.value);
  const x = nums(value.x);
  const y = nums(value.y);
  const kind = String(value.kind ?? "custom");
  const finite = x.map((v, i) => [v, y[i]]).filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
  if (!finite.length) return <p className="empty">Empty curve.</p>;
  const xs = finite.map((p) => p[0]);
  const ys = finite.map((p) => p[1]);
  const unit = kind === "roc" || kind === "pr";
  const x0 = unit ? 0 : Math.min(...xs);
  const x1 = unit ? 1 : Math.max(...xs);
  const y0 = unit ? 0 : Math.min(...ys);
  const y1 = unit ? 1 : Math.max(...ys);
  const sx = (v: number) => PAD.l + ((v - x0) / (x1 - x0 || 1)) * (W - PAD.l - PAD.r);
  const sy = (v: number) => H - PAD.b - ((v - y0) / (y1 - y0 || 1)) * (H - PAD.t - PAD.b);
  const auc = typeof value.auc === "number" ? value.auc : typeof value.average_precision === "number" ? value.average_precision : null;
  const labels = kind === "roc" ? ["false positive rate", "true positive rate"] : kind === "pr" ? ["recall", "precision"] : ["", ""];
  return (
    <div className="curve-cell">
      <svg className="plot curve" viewBox={`0 0 ${W} ${H}`} aria-label={`${kind} curve`}>
        <Axes x0={x0} x1={x1} y0={y0} y1={y1} xLabel={labels[0]} yLabel={labels[1]} />
        {kind === "roc" ? <line className="chance" x1={sx(0)} y1={sy(0)} x2={sx(1)} y2={sy(1)} /> : null}
        <polyline points={finite.map(([a, b]) => `${sx(a).toFixed(1)},${sy(b).toFixed(1)}`).join(" ")} />
      </svg>
      <div className="hint">{kind.toUpperCase()}{auc !== null ? ` · ${kind === "pr" ? "AP" : "AUC"} ${auc.toFixed(4)}` : ""}{value.annotation && auc === null ? ` · ${String(value.annotation)}` : ""}</div>
    </div>
  );
}

export function ConfusionCell({ event }: CellProps) {
  const value = obj(event.value);
  const xs = Array.isArray(value.x) ? value.x.map(String) : [];
  const ys = Array.isArray(value.y) ? value.y.map(String) : [];
  const z = Array.isArray(value.z) ? (value.z as Json[]).map((r) => nums(r)) : [];
  const max = Math.max(1, ...z.flat().filter(Number.isFinite));
  return (
    <table className="confusion" aria-label="Confusion matrix">
      <thead><tr><th /> {xs.map((x) => <th key={x}>{x}</th>)}</tr></thead>
      <tbody>
        {z.map((row, i) => (
          <tr key={i}>
            <th>{ys[i] ?? i}</th>
            {row.map((v, j) => (
              <td key={j} style={{ background: `rgba(31, 95, 191, ${(v / max).toFixed(3)})`, color: v / max > 0.55 ? "#fff" : "#1d2330" }}>{fmt(v)}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** RFC 4180 CSV: quoted fields, doubled quotes, newlines inside quotes. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field); rows.push(row); row = []; field = "";
    } else field += c;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows;
}

function Rows({ header, rows }: { header: string[]; rows: Json[][] }) {
  return (
    <div className="table-scroll">
      <table className="plain data-table">
        <thead><tr>{header.map((h, i) => <th key={i}>{h}</th>)}</tr></thead>
        <tbody>{rows.map((r, i) => <tr key={i}>{r.map((v, j) => <td key={j}>{v === null ? "" : typeof v === "number" ? fmt(v) : String(v)}</td>)}</tr>)}</tbody>
      </table>
    </div>
  );
}

function Pager({ page, pages, total, onPage, children }: { page: number; pages: number; total: number; onPage: (p: number) => void; children?: React.ReactNode }) {
  return (
    <div className="pager">
      <button onClick={() => onPage(Math.max(0, page - 1))} disabled={page === 0} aria-label="Previous page">‹</button>
      <span>page {page + 1} of {pages} · {total} rows</span>
      <button onClick={() => onPage(Math.min(pages - 1, page + 1))} disabled={page >= pages - 1} aria-label="Next page">›</button>
      {children}
    </div>
  );
}

export function PagedTable({ header, rows, pageSize = 20 }: { header: string[]; rows: Json[][]; pageSize?: number }) {
  const [page, setPage] = useState(0);
  const pages = Math.max(1, Math.ceil(rows.length / pageSize));
  const shown = rows.slice(page * pageSize, (page + 1) * pageSize);
  return (
    <div className="paged-table">
      <Rows header={header} rows={shown} />
      <Pager page={page} pages={pages} total={rows.length} onPage={setPage} />
    </div>
  );
}

export function DataFrameCell({ run, event }: CellProps) {
  const value = obj(event.value);
  const csv = value.content_type === "csv" && event.file;
  const text = useQuery({
    queryKey: ["csv", run, event.file], enabled: !!csv, staleTime: Infinity,
    queryFn: ({ signal }) => runFileText(run, event.file!, signal),
  });
  const table = useMemo(() => (text.data ? parseCsv(text.data) : null), [text.data]);
  if (!event.file) return <p className="empty">No file.</p>;
  if (value.content_type === "parquet") return <ServerTable run={run} path={event.file} />;
  if (!csv) {
    return <p>{String(value.content_type ?? "file")} · {String(value.rows ?? "?")} rows × {String(value.columns ?? "?")} columns · <DownloadLink href={runFileUrl(run, event.file, true)}>download</DownloadLink></p>;
  }
  if (!table) return <div className="loading">Loading table…</div>;
  return <PagedTable header={table[0] ?? []} rows={table.slice(1).filter((r) => r.length > 1 || r[0] !== "")} />;
}

/** A Parquet table paged by the server (the browser never holds the whole file). */
function ServerTable({ run, path, pageSize = 20 }: { run: string; path: string; pageSize?: number }) {
  const [page, setPage] = useState(0);
  const rows = useQuery({
    queryKey: ["table", run, path, page], staleTime: Infinity,
    queryFn: ({ signal }) => runTable(run, path, page * pageSize, pageSize, signal),
  });
  if (rows.isError) return <ErrorBox error={rows.error} />;
  if (!rows.data) return <div className="loading">Loading table…</div>;
  const pages = Math.max(1, Math.ceil(rows.data.total / pageSize));
  return (
    <div className="paged-table">
      <Rows header={rows.data.columns.map((c) => c.name)} rows={rows.data.rows} />
      <Pager page={page} pages={pages} total={rows.data.total} onPage={setPage}>
        <DownloadLink href={runFileUrl(run, path, true)}>download</DownloadLink>
      </Pager>
    </div>
  );
}

function Span({ span, depth }: { span: JsonDict; depth: number }) {
  const [open, setOpen] = useState(depth < 2);
  const children = Array.isArray(span.children) ? (span.children as Json[]).map(obj) : [];
  const started = typeof span.started_at === "string" ? Date.parse(span.started_at) : NaN;
  const finished = typeof span.finished_at === "string" ? Date.parse(span.finished_at) : NaN;
  const details = ["inputs", "outputs", "metadata"].filter((k) => Object.keys(obj(span[k] ?? null)).length);
  return (
    <li className="span">
      <button className="link" onClick={() => setOpen(!open)} aria-expanded={open}>{children.length || details.length ? (open ? "▾" : "▸") : "·"}</button>
      <strong>{String(span.name)}</strong> <span className="tag">{String(span.kind ?? "")}</span>
      {Number.isFinite(finished - started) ? <span className="hint"> {(finished - started).toFixed(0)} ms</span> : null}
      {span.status && span.status !== "succeeded" ? <span className="status status-failed">{String(span.status)}</span> : null}
      {open ? (
        <>
          {details.map((k) => <div key={k} className="span-detail"><span className="hint">{k}</span> <code>{JSON.stringify(span[k])}</code></div>)}
          {children.length ? <ul>{children.map((c, i) => <Span key={i} span={c} depth={depth + 1} />)}</ul> : null}
        </>
      ) : null}
    </li>
  );
}

export function TraceCell({ event }: CellProps) {
  return <ul className="trace-tree" aria-label="Trace">{<Span span={obj(event.value)} depth={0} />}</ul>;
}
