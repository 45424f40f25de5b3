/**
 * One artifact version (`#/artifact?uri=store://…`): a preview by kind (a dataset's schema,
 * statistics and preview rows; a model's framework, metrics, params and files; an image or a
 * plot; text), its location and store URI with a copy button, its versions, downloads of its
 * bytes and of its metadata as YAML, tag and untag, and its lineage.
 */
import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError, authHeaders, type Json, type JsonDict } from "../api";
import { artifactDownloadUrl, artifactRenderUrl, artifactStats, artifactVersions, getArtifact, tagArtifact, untagArtifact, type Artifact } from "../api2";
import { ApiImg, DownloadLink, SandboxFrame } from "../components/Authed";
import { ErrorBox, Loading } from "../components/Layout";
import { PagedTable } from "../components/panels/DataPanels";
import { formatTime } from "../format";
import { formatBytes, toYaml } from "./artifactFormat";
import LineageGraph from "./LineageGraph";
import "../media.css";

const obj = (v: Json | undefined): JsonDict => (v && typeof v === "object" && !Array.isArray(v) ? v : {});
const IMAGE = new Set(["png", "jpg", "jpeg", "gif", "webp"]);
const TEXT = new Set(["txt", "md", "markdown", "json", "yaml", "yml", "log", "py"]);
const PREVIEW_BYTES = 1_000_000;

const num = (v: number | null) => (v === null ? "" : Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : String(+v.toFixed(3)));

function Schema({ artifact }: { artifact: Artifact }) {
  const meta = artifact.meta;
  const schema = Array.isArray(meta.schema) ? meta.schema.map(obj) : [];
  const table = ["parquet", "csv"].includes((artifact.format ?? "").toLowerCase()) && artifact.stored_in_server;
  const stats = useQuery({
    queryKey: ["artifact-stats", artifact.uri], enabled: table && schema.length > 0, staleTime: Infinity,
    queryFn: ({ signal }) => artifactStats(artifact.uri, signal),
  });
  if (!schema.length) return null;
  const byName = new Map((stats.data?.columns ?? []).map((c) => [c.name, c]));
  return (
    <>
      <h2>Schema <span className="count">{String(meta.rows ?? "?")} rows × {schema.length} columns</span></h2>
      <table className="plain schema" aria-label="Schema">
        <thead><tr><th>Column</th><th>Type</th>{table ? <><th className="num">Nulls</th><th className="num">Min</th><th className="num">Mean</th><th className="num">Max</th><th className="num">Std</th><th>Histogram</th></> : null}</tr></thead>
        <tbody>
          {schema.map((c) => {
            const s = byName.get(String(c.name));
            const counts = s?.counts ?? [];
            const max = Math.max(1, ...counts);
            return (
              <tr key={String(c.name)}>
                <td>{String(c.name)}</td><td><code>{String(c.type)}</code></td>
                {table ? <>
                  <td className="num">{s ? s.nulls : ""}</td>
                  <td className="num">{s ? num(s.min) : ""}</td><td className="num">{s ? num(s.mean) : ""}</td>
                  <td className="num">{s ? num(s.max) : ""}</td><td className="num">{s ? num(s.std) : ""}</td>
                  <td>{counts.length
                    ? <span className="stat-bars" title={`${num(s!.min)} … ${num(s!.max)}`}>{counts.map((n, i) => <span key={i} style={{ height: `${(n / max) * 100}%` }} />)}</span>
                    : s?.distinct !== null && s?.distinct !== undefined ? `${s.distinct} distinct` : ""}</td>
                </> : null}
              </tr>
            );
          })}
        </tbody>
      </table>
      {stats.isError ? <ErrorBox error={stats.error} /> : null}
    </>
  );
}

function Preview({ artifact }: { artifact: Artifact }) {
  const meta = artifact.meta;
  const preview = obj(meta.preview);
  const format = (artifact.format ?? "").toLowerCase();
  const text = useQuery({
    queryKey: ["artifact-text", artifact.uri],
    enabled: artifact.stored_in_server && TEXT.has(format) && artifact.size <= PREVIEW_BYTES,
    queryFn: async ({ signal }) => (await fetch(artifactDownloadUrl(artifact.uri), { signal, headers: authHeaders() })).text(),
    staleTime: Infinity,
  });
  const blocks: React.ReactNode[] = [];
  if (artifact.kind === "model") {
    blocks.push(
      <div key="model" className="model-preview">
        <h2>Model</h2>
        <table className="plain kv"><tbody>
          {["framework", "algorithm", "model_file"].filter((k) => meta[k]).map((k) => <tr key={k}><td>{k}</td><td>{String(meta[k])}</td></tr>)}
        </tbody></table>
        <div className="grid-2">
          <div><h2>Metrics</h2><table className="plain kv" aria-label="Model metrics"><tbody>{Object.entries(obj(meta.metrics)).map(([k, v]) => <tr key={k}><td>{k}</td><td className="value">{String(v)}</td></tr>)}</tbody></table></div>
          <div><h2>Params</h2><table className="plain kv" aria-label="Model params"><tbody>{Object.entries(obj(meta.params)).map(([k, v]) => <tr key={k}><td>{k}</td><td className="value">{JSON.stringify(v)}</td></tr>)}</tbody></table></div>
        </div>
      </div>,
    );
  }
  blocks.push(<Schema key="schema" artifact={artifact} />);
  if (Array.isArray(preview.header) && Array.isArray(preview.rows)) {
    blocks.push(
      <div key="rows" className="dataset-preview">
        <h2>Preview <span className="count">{preview.rows.length} rows</span></h2>
        <PagedTable header={(preview.header as Json[]).map(String)} rows={(preview.rows as Json[]).map((r) => (Array.isArray(r) ? r : [r]))} pageSize={10} />
      </div>,
    );
  }
  if (artifact.stored_in_server && (IMAGE.has(format) || artifact.kind === "plot" && IMAGE.has(format))) {
    blocks.push(<ApiImg key="img" className="artifact-image" src={artifactDownloadUrl(artifact.uri)} alt={artifact.key} />);
  }
  if (artifact.stored_in_server && (format === "html" || format === "htm") && artifact.size <= 10 * PREVIEW_BYTES) {
    blocks.push(<SandboxFrame key="html" kind="html" className="html-frame artifact-html" title={`${artifact.key} preview`} src={artifactRenderUrl(artifact.uri)} />);
  }
  if (text.data !== undefined) blocks.push(<pre key="text" className="text-cell artifact-text">{text.data}</pre>);
  const files = Array.isArray(meta.files) ? meta.files.map(obj) : [];
  if (files.length) {
    blocks.push(
      <div key="files"><h2>Files <span className="count">{files.length}</span></h2>
        <ul className="file-list">{files.map((f, i) => <li key={i}><code>{String(f.path ?? f.name)}</code> {formatBytes(Number(f.size))}</li>)}</ul>
      </div>,
    );
  }
  return <>{blocks}</>;
}

function Tags({ artifact }: { artifact: Artifact }) {
  const client = useQueryClient();
  const [tag, setTag] = useState("");
  const [error, setError] = useState<unknown>(null);
  const refresh = () => client.invalidateQueries({ predicate: (q) => String(q.queryKey[0]).startsWith("artifact") });
  const run = async (action: () => Promise<unknown>) => {
    setError(null);
    try {
      await action();
      await refresh();
    } catch (e) {
      setError(e);
    }
  };
  const pinned = `store://${artifact.uri.slice("store://".length).split("@")[0]}@${artifact.uid}`;
  return (
    <div className="tag-editor">
      {artifact.tags.map((t) => (
        <span key={t} className="tag">{t}{t !== "latest" ? <button className="link" aria-label={`Remove tag ${t}`} onClick={() => run(() => untagArtifact(pinned, t))}>×</button> : null}</span>
      ))}
      <form onSubmit={(e) => { e.preventDefault(); if (tag.trim()) run(() => tagArtifact(pinned, tag.trim())).then(() => setTag("")); }}>
        <input aria-label="New tag" placeholder="add a tag" value={tag} onChange={(e) => setTag(e.target.value)} size={12} />
        <button type="submit" disabled={!tag.trim()}>Tag</button>
      </form>
      {error ? (error instanceof ApiError && error.status === 403 ? <div className="error-box">Tagging needs a write token on this server.</div> : <ErrorBox error={error} />) : null}
    </div>
  );
}

function CopyButton({ text }: { text: string }) {
  const [done, setDone] = useState(false);
  return (
    <button onClick={() => navigator.clipboard?.writeText(text).then(() => { setDone(true); setTimeout(() => setDone(false), 1500); }, () => setDone(false))}>
      {done ? "copied" : "copy"}
    </button>
  );
}

function yamlOf(a: Artifact): string {
  const { stored_in_server: _s, ...record } = a;
  return `${toYaml(record as unknown as Json)}\n`;
}

export default function ArtifactPage() {
  const [params] = useSearchParams();
  const uri = params.get("uri") ?? "";
  const artifact = useQuery({ queryKey: ["artifact", uri], queryFn: ({ signal }) => getArtifact(uri, signal), enabled: !!uri });
  const versions = useQuery({
    queryKey: ["artifact-versions", uri], enabled: !!uri,
    queryFn: ({ signal }) => artifactVersions(uri, signal),
  });
  const [yaml, setYaml] = useState(false);
  if (!uri) return <p className="empty">No artifact chosen.</p>;
  if (artifact.isError) return <ErrorBox error={artifact.error} />;
  if (!artifact.data) return <Loading what="artifact" />;
  const a = artifact.data;
  const pinned = `store://${a.uri.slice("store://".length).split("@")[0].split(":")[0]}@${a.uid}`;
  const yamlText = yamlOf(a);
  return (
    <section className="page artifact-page">
      <div className="artifact-head">
        <h1><Link to="/">Projects</Link> / <Link to={`/projects/${encodeURIComponent(a.project)}/artifacts`}>{a.project} artifacts</Link> / {a.key} <span className="count">v{a.version}</span></h1>
        <span className="tag">{a.kind}</span>
      </div>
      <div className="uri-row"><span className="hint">URI</span> <code className="store-uri">{pinned}</code> <CopyButton text={pinned} /></div>
      {a.location ? <div className="uri-row"><span className="hint">Location</span> <code>{a.location}</code> <CopyButton text={a.location} /></div> : null}
      <div className="grid-2">
        <table className="plain kv"><tbody>
          <tr><td>Tags</td><td><Tags artifact={a} /></td></tr>
          <tr><td>Labels</td><td>{Object.entries(a.labels).map(([k, v]) => <span key={k} className="label">{k}={String(v)}</span>)}</td></tr>
          <tr><td>Producer</td><td>{a.producer.run ? <Link to={`/runs/${String(a.producer.run)}`}>{String(a.producer.name ?? a.producer.run)}</Link> : ""}</td></tr>
          <tr><td>Owner</td><td>{String(a.producer.user ?? "")}</td></tr>
          <tr><td>Created</td><td>{formatTime(a.created_at)}</td></tr>
          <tr><td>Size</td><td>{formatBytes(a.size)}{a.is_dir ? " (folder)" : ""}</td></tr>
          <tr><td>Hash</td><td><code>{a.hash}</code></td></tr>
          <tr><td>Format</td><td>{a.format ?? ""}</td></tr>
          {a.description ? <tr><td>Description</td><td>{a.description}</td></tr> : null}
          <tr><td>Sources</td><td>{a.sources.map((s, i) => <div key={i}><Link to={`/artifact?uri=${encodeURIComponent(String(s.uri))}`}>{String(s.uri)}</Link></div>)}</td></tr>
        </tbody></table>
        <div>
          <div className="actions">
            {a.stored_in_server && !a.is_dir ? <DownloadLink className="button" href={artifactDownloadUrl(pinned)}>Download</DownloadLink> : <span className="hint">Bytes kept outside this server: use the location.</span>}{" "}
            <a className="button" download={`${a.key}-v${a.version}.yaml`} href={`data:application/yaml;charset=utf-8,${encodeURIComponent(yamlText)}`}>Download YAML</a>{" "}
            <button onClick={() => setYaml(!yaml)}>{yaml ? "Hide" : "View"} YAML</button>{" "}
            <Link to={`/lineage?uri=${encodeURIComponent(pinned)}`}>Full lineage</Link>
          </div>
          {yaml ? <pre className="yaml" aria-label="Metadata YAML">{yamlText}</pre> : null}
          <h2>Versions <span className="count">{versions.data?.length ?? ""}</span></h2>
          <table className="plain versions" aria-label="Versions"><tbody>
            {(versions.data ?? []).map((v) => (
              <tr key={v.uid} className={v.uid === a.uid ? "current" : ""}>
                <td>{v.uid === a.uid ? <strong>v{v.version}</strong> : <Link to={`/artifact?uri=${encodeURIComponent(v.uri)}`}>v{v.version}</Link>}</td>
                <td>{v.tags.map((t) => <span key={t} className="tag">{t}</span>)}</td>
                <td>{formatTime(v.created_at)}</td><td className="num">{formatBytes(v.size)}</td>
              </tr>
            ))}
          </tbody></table>
        </div>
      </div>
      <Preview artifact={a} />
      <h2>Lineage</h2>
      <LineageGraph start={{ uri: pinned }} depth={3} direction="both" height={380} />
    </section>
  );
}
