/**
 * The lineage graph around a run or an artifact version: runs (green), versions (blue) and
 * references (amber, dashed). More than a handful of leaf siblings become one cluster node
 * (click to open it). The layout runs in a Web Worker. Click a node to open its page;
 * double-click to centre the graph on it. Wheel zooms, drag pans.
 */
import { useEffect, useMemo, useRef, useState } from "react";
import { useNavigate } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { getLineage, type Lineage } from "../api2";
import { ErrorBox, Loading } from "../components/Layout";
import { clusterGraph, type GraphNode } from "../lineage/cluster";
import type { Layout } from "../lineage/layout";
import "../media.css";

interface Props {
  start: { uri?: string | null; run?: string | null };
  depth: number;
  direction: string;
  height?: number;
  cluster?: boolean;
}

/** Up to this many nodes/edges: one element per edge with an arrow, and a tooltip per node. */
const SMALL = 300;

let worker: Worker | null = null;
let nextId = 0;
const waiting = new Map<number, (result: { layout?: Layout; error?: string }) => void>();

/** One worker for the page, shared by every graph; answers are matched by request id. */
function layoutInWorker(nodes: GraphNode[], edges: { source: string; target: string; relation: string }[]): Promise<Layout> {
  if (!worker) {
    worker = new Worker(new URL("../lineage/layout.worker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (event) => {
      const done = waiting.get(event.data.id);
      waiting.delete(event.data.id);
      done?.(event.data);
    };
  }
  const id = ++nextId;
  return new Promise((resolve, reject) => {
    waiting.set(id, (result) => (result.layout ? resolve(result.layout) : reject(new Error(result.error ?? "layout failed"))));
    worker!.postMessage({ id, nodes, edges });
  });
}

function edgePath(points: { x: number; y: number }[]): string {
  if (points.length === 2) {
    const [a, b] = points;
    const mid = (a.x + b.x) / 2;
    return `M${a.x},${a.y} C${mid},${a.y} ${mid},${b.y} ${b.x},${b.y}`;
  }
  return `M${points.map((p) => `${p.x},${p.y}`).join(" L")}`;
}

export function nodeHref(node: { type: string; data?: Record<string, unknown> }): string | null {
  if (node.type === "run" && node.data?.uuid) return `/runs/${String(node.data.uuid)}`;
  if (node.type === "artifact" && node.data?.uri) return `/artifact?uri=${encodeURIComponent(String(node.data.uri))}`;
  return null;
}

export default function LineageGraph({ start, depth, direction, height = 560, cluster = true }: Props) {
  const navigate = useNavigate();
  const lineage = useQuery({
    queryKey: ["lineage", start.uri ?? "", start.run ?? "", direction, depth],
    queryFn: ({ signal }) => getLineage(start, direction, depth, signal),
  });
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const shaped = useMemo(() => {
    const data: Lineage | undefined = lineage.data;
    if (!data) return null;
    const nodes: GraphNode[] = data.nodes.map((n) => ({ id: n.id, type: n.type, label: n.label }));
    return cluster ? clusterGraph(nodes, data.edges, data.root, undefined, expanded) : { nodes, edges: data.edges };
  }, [lineage.data, expanded, cluster]);
  const [laid, setLaid] = useState<{ of: unknown; layout: Layout; began: number } | null>(null);
  const [timing, setTiming] = useState<{ worker: number; total: number } | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (!shaped) return;
    let live = true;
    const began = performance.now();
    setTiming(null);
    layoutInWorker(shaped.nodes, shaped.edges).then((result) => {
      if (!live) return;
      setLaid({ of: shaped, layout: result, began });
    }, (e) => live && setError(e));
    return () => { live = false; };
  }, [shaped]);
  const layout = laid?.layout ?? null;
  // Layout start to the first frame painted with the graph (read by bench/bench_dashboard_media.py).
  useEffect(() => {
    if (!laid) return;
    const frame = requestAnimationFrame(() => setTiming({ worker: laid.layout.ms, total: performance.now() - laid.began }));
    return () => cancelAnimationFrame(frame);
  }, [laid]);
  const [view, setView] = useState<{ x: number; y: number; k: number } | null>(null);
  useEffect(() => setView(null), [layout]);
  const drag = useRef<{ x: number; y: number; vx: number; vy: number } | null>(null);
  const box = useRef<HTMLDivElement>(null);

  const data = lineage.data;
  const byId = useMemo(() => new Map((data?.nodes ?? []).map((n) => [n.id, n])), [data]);
  // Drawn once per layout: panning and zooming change one transform, not 3,000 elements.
  const drawing = useMemo(() => {
    if (!layout || !data) return null;
    const small = layout.edges.length <= SMALL;
    return (
      <>
        {small
          ? layout.edges.map((e, i) => <path key={i} className={`edge ${e.relation}`} d={edgePath(e.points)} markerEnd="url(#arrow)" />)
          : <path className="edge" d={layout.edges.map((e) => edgePath(e.points)).join(" ")} />}
        {layout.nodes.map((n) => {
          const source = byId.get(n.id);
          const summary = source?.type === "ref" ? [source.data.kind, source.data.path].filter(Boolean).join(" · ") : source?.data.kind ?? "";
          return (
            <g key={n.id} className={`node ${n.type}${n.id === data.root ? " root" : ""}`} data-id={n.id} transform={`translate(${n.x - n.width / 2},${n.y - n.height / 2})`}>
              {layout.nodes.length <= SMALL ? <title>{`${n.type}: ${source?.label ?? n.label}${summary ? ` (${String(summary)})` : ""}${n.type === "cluster" ? " — click to open" : ""}`}</title> : null}
              <rect width={n.width} height={n.height} rx={n.type === "run" ? 13 : 3} />
              <text x={8} y={n.height / 2 + 4}>{source?.type === "ref" && source.data.name ? String(source.data.name) : n.label}</text>
            </g>
          );
        })}
      </>
    );
  }, [layout, data, byId]);
  const [hover, setHover] = useState<string | null>(null);

  if (lineage.isError) return <ErrorBox error={lineage.error} />;
  if (error) return <ErrorBox error={error} />;
  if (!data || !layout) return <Loading what="lineage" />;
  const width = box.current?.clientWidth ?? 1000;
  const fit = Math.min(1.4, width / Math.max(layout.width, 1), height / Math.max(layout.height, 1));
  const v = view ?? { x: 0, y: 0, k: Math.max(fit, 0.05) };
  const nodeOf = (target: EventTarget) => (target as Element).closest?.(".node")?.getAttribute("data-id") ?? null;
  const hovered = hover ? byId.get(hover) : null;
  return (
    <div ref={box} className="lineage-view" style={{ height }} data-state={laid?.of === shaped && timing ? "ready" : "laying-out"} data-nodes={layout.nodes.length}
         data-layout-ms={timing ? timing.worker.toFixed(1) : ""} data-total-ms={timing ? timing.total.toFixed(1) : ""}
         onWheel={(e) => { const k = Math.min(4, Math.max(0.02, v.k * (e.deltaY < 0 ? 1.2 : 1 / 1.2))); setView({ ...v, k }); }}
         onPointerDown={(e) => { if (nodeOf(e.target)) return; drag.current = { x: e.clientX, y: e.clientY, vx: v.x, vy: v.y }; }}
         onPointerMove={(e) => { const d = drag.current; if (d) setView({ ...v, x: d.vx + e.clientX - d.x, y: d.vy + e.clientY - d.y }); }}
         onPointerUp={() => { drag.current = null; }} onPointerLeave={() => { drag.current = null; }}
         onMouseOver={(e) => setHover(nodeOf(e.target))}
         onClick={(e) => {
           const id = nodeOf(e.target);
           if (!id) return;
           if (id.startsWith("cluster:")) setExpanded(new Set([...expanded, id]));
           else { const node = byId.get(id); const href = node ? nodeHref(node) : null; if (href) navigate(href); }
         }}
         onDoubleClick={(e) => {
           const node = byId.get(nodeOf(e.target) ?? "");
           if (node?.type === "run") navigate(`/lineage?run=${String(node.data.uuid)}&depth=${depth}&direction=${direction}`);
           else if (node?.type === "artifact") navigate(`/lineage?uri=${encodeURIComponent(String(node.data.uri))}&depth=${depth}&direction=${direction}`);
         }}>
      <svg aria-label="Lineage graph">
        <defs>
          <marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#9ca3af" /></marker>
        </defs>
        <g transform={`translate(${v.x},${v.y}) scale(${v.k})`}>{drawing}</g>
      </svg>
      {hovered ? <div className="lineage-hover">{hovered.type}: {hovered.label}{hovered.data.kind ? ` · ${String(hovered.data.kind)}` : ""}{hovered.type === "ref" && hovered.data.name ? ` · ${String(hovered.data.name)}` : ""}{hovered.data.summary ? ` · ${JSON.stringify(hovered.data.summary)}` : ""}</div> : null}
      <div className="lineage-status">
        {data.nodes.length} nodes, {data.edges.length} edges{data.truncated ? " (truncated at the server's limit)" : ""}
        {layout.nodes.length !== data.nodes.length ? ` · ${layout.nodes.length} drawn (clusters: click to open)` : ""}
        {timing ? ` · layout ${timing.worker.toFixed(0)} ms` : ""}
      </div>
    </div>
  );
}
