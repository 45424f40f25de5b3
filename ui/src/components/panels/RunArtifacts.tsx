/** On a run's page: links to its media and lineage, and the artifact versions it produced and consumed. */
import { Link } from "react-router";
import { useQuery } from "@tanstack/react-query";
import type { RunDetail } from "../../api";
import { getLineage, type LineageNode } from "../../api2";

export function RunLinks({ run }: { run: RunDetail }) {
  const media = Object.keys(run.events).some((k) => k !== "metric");
  return (
    <nav className="run-links" aria-label="Run links">
      {media ? <Link to={`/media?run=${run.uuid}`}>Media</Link> : null}
      <Link to={`/lineage?run=${run.uuid}`}>Lineage</Link>
      <Link to={`/projects/${encodeURIComponent(run.project)}/artifacts`}>Artifacts</Link>
    </nav>
  );
}

function VersionList({ nodes, label }: { nodes: LineageNode[]; label: string }) {
  return (
    <div>
      <h2>{label} <span className="count">{nodes.length}</span></h2>
      {nodes.length === 0 ? <p className="empty">None.</p> : (
        <ul className={`run-artifacts ${label.toLowerCase()}`}>
          {nodes.map((n) => (
            <li key={n.id}>
              {n.type === "artifact"
                ? <Link to={`/artifact?uri=${encodeURIComponent(String(n.data.uri))}`}>{n.label}</Link>
                : <span title={String(n.data.summary ?? "")}>{n.label}</span>}{" "}
              <span className="tag">{String(n.data.kind ?? n.type)}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** What the run produced (outputs) and consumed (inputs), from its lineage one hop out; asked
 * for once `enabled` (the run page waits for its charts' first series). */
export function RunArtifacts({ run, enabled = true }: { run: RunDetail; enabled?: boolean }) {
  const lineage = useQuery({
    queryKey: ["lineage", "run", run.uuid, "both", 1],
    queryFn: ({ signal }) => getLineage({ run: run.uuid }, "both", 1, signal),
    enabled,
  });
  if (!lineage.data) return null;
  const byId = new Map(lineage.data.nodes.map((n) => [n.id, n]));
  const root = lineage.data.root;
  const pick = (ids: string[]) => ids.map((id) => byId.get(id)).filter((n): n is LineageNode => !!n && n.type !== "run");
  const produced = pick(lineage.data.edges.filter((e) => e.source === root).map((e) => e.target));
  const consumed = pick(lineage.data.edges.filter((e) => e.target === root).map((e) => e.source));
  if (!produced.length && !consumed.length) return null;
  return (
    <div className="two-col">
      <VersionList nodes={consumed} label="Consumed" />
      <VersionList nodes={produced} label="Produced" />
    </div>
  );
}
