/**
 * A project's artifacts (`#/projects/<p>/artifacts?tab=datasets&q=&label=&tag=&producer=&from=&to=`):
 * tabs by kind as MLRun has them (Datasets, Models, Feature store, Artifacts), one table of
 * versions, and search by key text, labels (`k=v` or a bare `k`), tag, producer run and a
 * created time range. Every filter lives in the URL.
 */
import { useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { useUpdateSearch } from "../url";
import { useInfiniteQuery } from "@tanstack/react-query";
import type { Json } from "../api";
import { listArtifacts, type Artifact } from "../api2";
import { ErrorBox, Loading } from "../components/Layout";
import { formatTime } from "../format";
import { formatBytes } from "./artifactFormat";
import "../media.css";

export const TABS: { id: string; label: string; kinds: string[] | null }[] = [
  { id: "datasets", label: "Datasets", kinds: ["dataset"] },
  { id: "models", label: "Models", kinds: ["model"] },
  { id: "features", label: "Feature store", kinds: ["feature-set", "feature-vector"] },
  { id: "artifacts", label: "Artifacts", kinds: null },
];
const NAMED = new Set(TABS.flatMap((t) => t.kinds ?? []));

/** A datetime-local input's value as an ISO time (the browser's zone), or null. */
function isoOf(local: string | null): string | null {
  if (!local) return null;
  const time = new Date(local);
  return Number.isNaN(time.getTime()) ? null : time.toISOString();
}

function Labels({ labels }: { labels: Record<string, Json> }) {
  return <>{Object.entries(labels).map(([k, v]) => <span key={k} className="label">{v === null || v === "" ? k : `${k}=${String(v)}`}</span>)}</>;
}

export default function Artifacts() {
  const { project = "" } = useParams();
  const [params] = useSearchParams();
  const tab = TABS.find((t) => t.id === params.get("tab")) ?? TABS[0];
  const labels = params.getAll("label");
  const filters = {
    q: params.get("q"), tag: params.get("tag"), producer: params.get("producer"),
    from: params.get("from"), to: params.get("to"), latest: params.get("latest") === "1",
  };
  const [draftLabel, setDraftLabel] = useState("");
  const update = useUpdateSearch();
  const set = (key: string, value: string | null) => update((next) => {
    if (value === null || value === "") next.delete(key);
    else next.set(key, value);
  });
  const setLabels = (values: string[]) => update((next) => {
    next.delete("label");
    values.forEach((v) => next.append("label", v));
  });

  // One kind per request for the named tabs; "Artifacts" lists every kind and leaves the named ones out.
  const kinds = tab.kinds ?? [null];
  const query = useInfiniteQuery({
    queryKey: ["artifacts", project, tab.id, filters, labels],
    initialPageParam: kinds.map(() => null as string | null),
    queryFn: async ({ pageParam, signal }) => {
      const pages = await Promise.all(kinds.map((kind, i) => pageParam[i] === "done" ? null : listArtifacts({
        project, kind, q: filters.q, labels, tag: filters.tag, producer: filters.producer,
        createdAfter: isoOf(filters.from), createdBefore: isoOf(filters.to), latestOnly: filters.latest, cursor: pageParam[i],
      }, signal)));
      return {
        artifacts: pages.flatMap((p) => p?.artifacts ?? []).filter((a) => tab.kinds !== null || !NAMED.has(a.kind)),
        next: pages.map((p) => p?.next_cursor ?? "done"),
      };
    },
    getNextPageParam: (last) => (last.next.every((n) => n === "done") ? undefined : last.next),
  });
  const rows: Artifact[] = (query.data?.pages ?? []).flatMap((p) => p.artifacts)
    .sort((a, b) => b.created_at.localeCompare(a.created_at));
  // A version never changes; its key is updated by each new version (the newest one listed).
  const updated = new Map<string, string>();
  for (const a of rows) if ((updated.get(a.key) ?? "") < a.created_at) updated.set(a.key, a.created_at);

  return (
    <section className="page artifacts-page">
      <div className="page-head">
        <h1><Link to="/">Projects</Link> / <Link to={`/projects/${encodeURIComponent(project)}`}>{project}</Link> / artifacts</h1>
        <span className="counts">{query.isPending ? "" : `${rows.length}${query.hasNextPage ? "+" : ""} versions`}</span>
      </div>
      <div className="tabs" role="tablist">
        {TABS.map((t) => (
          <button key={t.id} role="tab" aria-selected={t.id === tab.id} onClick={() => set("tab", t.id)}>{t.label}</button>
        ))}
      </div>
      <div className="artifact-filters">
        <input aria-label="Search keys" placeholder="key contains…" value={filters.q ?? ""} onChange={(e) => set("q", e.target.value)} />
        <form onSubmit={(e) => { e.preventDefault(); if (draftLabel.trim()) { setLabels([...labels, draftLabel.trim()]); setDraftLabel(""); } }}>
          <input aria-label="Label filter" placeholder="label: k=v or k" value={draftLabel} onChange={(e) => setDraftLabel(e.target.value)} />
        </form>
        {labels.map((l) => (
          <span key={l} className="label">{l} <button className="link" aria-label={`Remove label ${l}`} onClick={() => setLabels(labels.filter((x) => x !== l))}>×</button></span>
        ))}
        <input aria-label="Tag" placeholder="tag" size={10} value={filters.tag ?? ""} onChange={(e) => set("tag", e.target.value)} />
        <input aria-label="Producer run" placeholder="producer run uuid" size={14} value={filters.producer ?? ""} onChange={(e) => set("producer", e.target.value)} />
        <label>created from <input type="datetime-local" aria-label="Created from" value={filters.from ?? ""} onChange={(e) => set("from", e.target.value)} /></label>
        <label>to <input type="datetime-local" aria-label="Created to" value={filters.to ?? ""} onChange={(e) => set("to", e.target.value)} /></label>
        <label title="With a time range: keys updated in it"><input type="checkbox" checked={filters.latest} onChange={(e) => set("latest", e.target.checked ? "1" : null)} /> latest version of each key</label>
      </div>
      {query.isError ? <ErrorBox error={query.error} /> : null}
      {query.isPending ? <Loading what="artifacts" /> : rows.length === 0 ? <p className="empty">No {tab.label.toLowerCase()} match.</p> : (
        <div className="table-scroll">
          <table className="plain artifacts" aria-label="Artifacts">
            <thead>
              <tr><th>Key</th><th>Version</th><th>Tags</th><th>Labels</th><th>Kind</th><th>Producer</th><th>Owner</th><th>Created</th><th>Updated</th><th className="num">Size</th><th>Hash</th>
                {tab.id === "models" ? <><th>Framework</th><th>Metrics</th></> : null}</tr>
            </thead>
            <tbody>
              {rows.map((a) => (
                <tr key={a.uri} data-key={a.key} data-version={a.version}>
                  <td><Link to={`/artifact?uri=${encodeURIComponent(a.uri)}`}>{a.key}</Link></td>
                  <td>v{a.version}</td>
                  <td>{a.tags.map((t) => <span key={t} className="tag">{t}</span>)}</td>
                  <td><Labels labels={a.labels} /></td>
                  <td>{a.kind}</td>
                  <td>{a.producer.run ? <Link to={`/runs/${String(a.producer.run)}`}>{String(a.producer.name ?? String(a.producer.run).slice(0, 8))}</Link> : ""}</td>
                  <td>{String(a.producer.user ?? "")}</td>
                  <td>{formatTime(a.created_at)}</td>
                  <td>{formatTime(updated.get(a.key) ?? a.created_at)}</td>
                  <td className="num">{formatBytes(a.size)}</td>
                  <td><code title={a.hash}>{a.hash.slice(0, 10)}</code></td>
                  {tab.id === "models" ? <>
                    <td>{String(a.meta.framework ?? a.summary.framework ?? "")}</td>
                    <td>{Object.entries((a.meta.metrics ?? {}) as Record<string, Json>).slice(0, 3).map(([k, v]) => `${k} ${typeof v === "number" ? +v.toFixed(4) : String(v)}`).join(", ")}</td>
                  </> : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {query.hasNextPage ? <button onClick={() => query.fetchNextPage()} disabled={query.isFetchingNextPage}>More</button> : null}
    </section>
  );
}
