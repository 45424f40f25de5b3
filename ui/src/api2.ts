/**
 * The REST API of media events, artifacts and lineage (the paths and shapes these pages use).
 * Requests go through api.ts's one request function, so errors and tokens work the same.
 */
import { apiRequest, apiUrl, authHeaders, queryString, type Json, type JsonDict } from "./api";

export interface MediaEvent {
  step: number | null;
  timestamp: string;
  value: Json;
  file: string | null;
}

interface EventPage {
  events: MediaEvent[];
  next_cursor: string | null;
}

/** Every event of one (kind, name) of a run, in time order (all pages, up to `max`). */
export async function runEvents(uuid: string, kind: string, name: string, max = 10_000, signal?: AbortSignal): Promise<MediaEvent[]> {
  const out: MediaEvent[] = [];
  let cursor: string | null = null;
  do {
    const page: EventPage = await apiRequest<EventPage>(
      `/runs/${encodeURIComponent(uuid)}/events${queryString({ kind, name, limit: 1000, cursor })}`, {}, signal);
    out.push(...page.events);
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return out;
}

/** A file of the run folder (an asset), served sandboxed by the API. */
export function runFileUrl(uuid: string, path: string, download = false): string {
  const encoded = path.split("/").map(encodeURIComponent).join("/");
  return apiUrl(`/runs/${encodeURIComponent(uuid)}/files/${encoded}${download ? "?download=true" : ""}`);
}

/** The empty sandboxed page a token-holding dashboard writes a fetched HTML or chart page into. */
export function shellUrl(kind: "html" | "chart"): string {
  // served beside the API (outside it: the page holds no data), where the render routes are
  return new URL(`/shell/${kind}`, new URL(apiUrl("/"), location.href)).href;
}

/** The sandboxed page of a logged HTML event or chart at a step (nearest prior). */
export function renderUrl(uuid: string, kind: "html" | "chart", name: string, step: number | null): string {
  return apiUrl(`/runs/${encodeURIComponent(uuid)}/render/${kind}${queryString({ name, step })}`);
}

export async function runFileText(uuid: string, path: string, signal?: AbortSignal): Promise<string> {
  const response = await fetch(runFileUrl(uuid, path), { signal, headers: authHeaders() });
  if (!response.ok) throw new Error(`${response.status} reading ${path}`);
  return response.text();
}

export async function runFileBytes(uuid: string, path: string, signal?: AbortSignal): Promise<ArrayBuffer> {
  const response = await fetch(runFileUrl(uuid, path), { signal, headers: authHeaders() });
  if (!response.ok) throw new Error(`${response.status} reading ${path}`);
  return response.arrayBuffer();
}


export interface TablePage {
  columns: { name: string; type: string }[];
  rows: Json[][];
  offset: number;
  total: number;
}

/** One page of rows of a logged Parquet (or CSV) table, read by the server. */
export function runTable(uuid: string, path: string, offset: number, limit: number, signal?: AbortSignal): Promise<TablePage> {
  return apiRequest(`/runs/${encodeURIComponent(uuid)}/table${queryString({ path, offset, limit })}`, {}, signal);
}

// -- artifacts ---------------------------------------------------------------------------------

export interface Artifact {
  uri: string;
  project: string;
  key: string;
  kind: string;
  version: number;
  uid: string;
  hash: string;
  size: number;
  is_dir: boolean;
  format: string | null;
  tags: string[];
  labels: JsonDict;
  summary: JsonDict;
  meta: JsonDict;
  producer: JsonDict;
  sources: JsonDict[];
  links: JsonDict;
  description: string | null;
  created_at: string;
  stored_in_server: boolean;
  location: string | null;
}

export interface ArtifactSearch {
  project: string;
  kind?: string | null;
  q?: string | null;
  labels?: string[];
  tag?: string | null;
  producer?: string | null;
  createdAfter?: string | null;
  createdBefore?: string | null;
  latestOnly?: boolean;
  cursor?: string | null;
  limit?: number;
}

export function listArtifacts(search: ArtifactSearch, signal?: AbortSignal): Promise<{ artifacts: Artifact[]; next_cursor: string | null }> {
  return apiRequest(`/artifacts${queryString({
    project: search.project, kind: search.kind, q: search.q, label: search.labels ?? [], tag: search.tag,
    producer: search.producer, created_after: search.createdAfter, created_before: search.createdBefore,
    latest_only: search.latestOnly ? true : null, cursor: search.cursor, limit: search.limit ?? 200,
  })}`, {}, signal);
}

export function getArtifact(uri: string, signal?: AbortSignal): Promise<Artifact> {
  return apiRequest(`/artifacts/version${queryString({ uri })}`, {}, signal);
}

export async function artifactVersions(uri: string, signal?: AbortSignal): Promise<Artifact[]> {
  return (await apiRequest<{ artifacts: Artifact[] }>(`/artifacts/versions${queryString({ uri })}`, {}, signal)).artifacts;
}

/** An HTML version as the server's sandboxed page (scripts off). */
export function artifactRenderUrl(uri: string): string {
  return apiUrl(`/artifacts/render${queryString({ uri })}`);
}

export function artifactDownloadUrl(uri: string): string {
  return apiUrl(`/artifacts/download${queryString({ uri })}`);
}

export interface ColumnStats {
  name: string;
  type: string;
  count: number;
  nulls: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  std: number | null;
  distinct: number | null;
  edges: number[] | null;
  counts: number[] | null;
}

/** Per-column statistics of a CSV or Parquet version, computed by the server. */
export function artifactStats(uri: string, signal?: AbortSignal): Promise<{ rows: number; columns: ColumnStats[] }> {
  return apiRequest(`/artifacts/stats${queryString({ uri })}`, {}, signal);
}

export function tagArtifact(uri: string, tag: string): Promise<Artifact> {
  return apiRequest("/artifacts/tags", { method: "POST", body: JSON.stringify({ uri, tag }) });
}

export function untagArtifact(uri: string, tag: string): Promise<null> {
  return apiRequest(`/artifacts/tags${queryString({ uri, tag })}`, { method: "DELETE" });
}

// -- lineage -----------------------------------------------------------------------------------

export interface LineageNode {
  id: string;
  type: string; // run | artifact | ref
  label: string;
  data: JsonDict;
}

export interface LineageEdge {
  source: string;
  target: string;
  relation: string;
}

export interface Lineage {
  root: string;
  nodes: LineageNode[];
  edges: LineageEdge[];
  truncated: boolean;
}

export function getLineage(start: { uri?: string | null; run?: string | null }, direction: string, depth: number,
                           signal?: AbortSignal): Promise<Lineage> {
  return apiRequest(`/lineage${queryString({ uri: start.uri, run: start.run, direction, depth })}`, {}, signal);
}
