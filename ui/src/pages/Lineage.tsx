/**
 * The lineage page (`#/lineage?uri=store://…` or `?run=<uuid>`, with `depth=`, `direction=up|down|both`
 * and `cluster=0` to draw every node): the graph around one run or artifact version.
 */
import { Link, useSearchParams } from "react-router";
import { useUpdateSearch } from "../url";
import LineageGraph from "./LineageGraph";

export default function Lineage() {
  const [params] = useSearchParams();
  const uri = params.get("uri");
  const run = params.get("run");
  const depth = Math.min(10, Math.max(0, Number(params.get("depth") ?? 2) || 0));
  const direction = ["up", "down", "both"].includes(params.get("direction") ?? "") ? params.get("direction")! : "both";
  const cluster = params.get("cluster") !== "0";
  const update = useUpdateSearch();
  const set = (key: string, value: string) => update((next) => next.set(key, value));
  if (!uri && !run) return <p className="empty">Open the lineage from a run or an artifact.</p>;
  return (
    <section className="page lineage-page">
      <div className="page-head">
        <h1><Link to="/">Projects</Link> / lineage of {run ? <Link to={`/runs/${run}`}>run {run.slice(0, 8)}</Link> : <Link to={`/artifact?uri=${encodeURIComponent(uri!)}`}>{uri}</Link>}</h1>
      </div>
      <div className="lineage-controls">
        <label>direction <select aria-label="Direction" value={direction} onChange={(e) => set("direction", e.target.value)}>
          <option value="both">both</option><option value="up">upstream</option><option value="down">downstream</option>
        </select></label>
        <label>depth <input aria-label="Depth" type="number" min={0} max={10} value={depth} onChange={(e) => set("depth", e.target.value)} /></label>
        <button onClick={() => set("depth", String(Math.min(10, depth + 1)))} disabled={depth >= 10}>Expand one hop</button>
        <label><input type="checkbox" checked={cluster} onChange={(e) => set("cluster", e.target.checked ? "1" : "0")} /> cluster siblings</label>
        <span className="hint">click a node to open it; double-click to centre on it; wheel zooms, drag pans</span>
      </div>
      <LineageGraph start={{ uri, run }} depth={depth} direction={direction} cluster={cluster} />
    </section>
  );
}
