/**
 * The one module that knows the labbook REST API (/api/v1): its paths, parameters and shapes.
 * Every page asks through these functions, so a change of the API touches this file only.
 * Errors come back as ApiError, built from the server's one error shape:
 *   {"error": {"code", "message", "field", "hint"}}
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonDict = { [key: string]: Json };

export interface Project {
  name: string;
  run_count: number;
  created_at: string | null;
  last_activity: string | null;
}

export interface MetricSummary {
  last: number | null;
  min: number | null;
  max: number | null;
  count: number;
  last_step: number | null;
  last_timestamp?: string | null;
}

/** Run statuses the server reports; `crashed` is a running run whose heartbeat stopped. */
export type RunStatus =
  | "created" | "running" | "succeeded" | "failed" | "stopped" | "crashed" | string;

/** What a run row and a run's detail both have. */
interface RunFields {
  uuid: string;
  project: string;
  name: string | null;
  description: string | null;
  status: RunStatus;
  tags: string[];
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  duration: number | null;
  inputs: JsonDict;
  outputs: JsonDict;
  metrics: Record<string, MetricSummary>;
}

export interface RunRow extends RunFields {
  user: string | null;
  host: string | null;
  git_commit: string | null;
  columns: JsonDict;
}

export interface RunPage {
  runs: RunRow[];
  next_cursor: string | null;
}

export interface StatusCondition {
  status: string;
  time?: string | null;
  reason?: string | null;
  message?: string | null;
}

export interface RunDetail extends RunFields {
  meta: JsonDict;
  code: JsonDict;
  env: JsonDict;
  readme: string | null;
  heartbeat_at: string | null;
  status_conditions: StatusCondition[];
  events: Record<string, string[]>;
  resources: string[];
}

/** x of a chart: the step, wall time, time since the first point, or another metric of the run at the same step. */
export type XAxis = "step" | "wall" | "relative" | `metric:${string}`;

/**
 * One series over the visible range. `raw`: `x`/`y` hold every point. Otherwise one entry per
 * non-empty bucket: `x` (first point's x), `x_last`, `first`, `min`, `max`, `last`, `count`.
 * Non-finite values (NaN, ±inf) arrive as null.
 */
export interface Series {
  run: string;
  name: string;
  x_axis: XAxis;
  raw: boolean;
  total: number;
  x: (number | null)[];
  y: (number | null)[];
  x_last: (number | null)[];
  first: (number | null)[];
  min: (number | null)[];
  max: (number | null)[];
  last: (number | null)[];
  count: number[];
}

export interface SeriesRequest {
  x?: XAxis;
  points?: number;
  xMin?: number | null;
  xMax?: number | null;
}

/** The server's limits on one /series/query request. */
export const SERIES_QUERY_MAX_RUNS = 200;
export const SERIES_QUERY_MAX_METRICS = 20;
export const MAX_PAGE = 1000;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
    readonly hint: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The one shape of every error the API answers with. */
interface ErrorBody {
  error?: { code?: string; message?: string; field?: string | null; hint?: string | null };
}

function apiBase(): string {
  const meta = typeof document === "undefined" ? null : document.querySelector('meta[name="labbook-api"]');
  return (meta?.getAttribute("content") || "/api/v1").replace(/\/$/, "");
}

const TOKEN_KEY = "labbook.token";

/** A token for servers that require one (kept in this browser's local storage, sent as a header). */
export function setToken(token: string | null): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

/** The Authorization header of the stored token, or nothing (a local `labbook ui`, a public server). */
export function authHeaders(): Record<string, string> {
  const token = typeof localStorage === "undefined" ? null : localStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** Whether requests carry a token: then nothing may be loaded by a plain URL (it would go without one). */
export function tokenInUse(): boolean {
  return "Authorization" in authHeaders();
}

type Query = Record<string, string | number | boolean | null | undefined | (string | number)[]>;

export function queryString(params: Query): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => search.append(key, String(v)));
    else search.append(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** The answer public/early.js asked for on this path before this code loaded (the runs page's
 * first rows and count), taken once; undefined when there is none. */
function takeEarly(path: string): Promise<Response> | undefined {
  const early = (globalThis as { labbookEarly?: { until: number; requests: Record<string, Promise<Response> | undefined> } }).labbookEarly;
  if (!early || Date.now() > early.until) return undefined;
  const response = early.requests[path];
  early.requests[path] = undefined;
  return response;
}

async function request<T>(path: string, init: RequestInit = {}, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...authHeaders() };
  if (init.body) headers["Content-Type"] = "application/json";
  const early = init.method === undefined && init.body === undefined ? takeEarly(path) : undefined;
  const response = await (early ?? fetch(`${apiBase()}${path}`, { ...init, headers, signal }));
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = (body as ErrorBody | null)?.error;
    throw new ApiError(
      response.status,
      error?.code ?? "http_error",
      error?.message ?? `${response.status} ${response.statusText} on ${path}`,
      error?.field ?? null,
      error?.hint ?? null,
    );
  }
  return body as T;
}

export async function listProjects(signal?: AbortSignal): Promise<Project[]> {
  return (await request<{ projects: Project[] }>("/projects", {}, signal)).projects;
}

export interface RunSearch {
  project?: string | null;
  filter?: string | null;
  orderBy?: string[];
  columns?: string[];
  /** Rows carry only the params, outputs and metrics that `columns` name (a table's visible ones). */
  onlyColumns?: boolean;
  limit?: number;
  cursor?: string | null;
}

/** One keyset page of runs; pass `next_cursor` back as `cursor` for the next one. */
export function searchRuns(search: RunSearch, signal?: AbortSignal): Promise<RunPage> {
  const qs = queryString({
    project: search.project,
    filter: search.filter,
    order_by: search.orderBy ?? [],
    columns: search.columns ?? [],
    only_columns: search.onlyColumns || undefined,
    limit: search.limit,
    cursor: search.cursor,
  });
  return request<RunPage>(`/runs${qs}`, {}, signal);
}

export function getRun(uuid: string, signal?: AbortSignal): Promise<RunDetail> {
  return request<RunDetail>(`/runs/${encodeURIComponent(uuid)}`, {}, signal);
}

function seriesQuery(name: string, options: SeriesRequest, defaultX: XAxis): string {
  return queryString({ name, x: options.x ?? defaultX, points: options.points, x_min: options.xMin, x_max: options.xMax });
}

export function metricSeries(uuid: string, name: string, options: SeriesRequest = {}, signal?: AbortSignal): Promise<Series> {
  return request<Series>(`/runs/${encodeURIComponent(uuid)}/metrics/series${seriesQuery(name, options, "step")}`, {}, signal);
}

/** A sampled resource series (cpu.percent, gpu.0.power, ...), downsampled like a metric. */
export function resourceSeries(uuid: string, name: string, options: SeriesRequest = {}, signal?: AbortSignal): Promise<Series> {
  return request<Series>(`/runs/${encodeURIComponent(uuid)}/resources/series${seriesQuery(name, options, "wall")}`, {}, signal);
}

export interface LogLine {
  timestamp: string;
  stream: string;
  message: string;
  level: string | null;
  logger: string | null;
  rank: number;
}

/** The last `tail` captured lines of stdout, stderr and logging, in time order. */
export async function runLogs(uuid: string, tail = 1000, signal?: AbortSignal): Promise<LogLine[]> {
  return (await request<{ lines: LogLine[] }>(`/runs/${encodeURIComponent(uuid)}/logs${queryString({ tail })}`, {}, signal)).lines;
}

/**
 * Many runs' metrics. The server takes at most 200 runs x 20 metrics per request, so larger
 * sets go out as several requests and come back as one list.
 */
export async function querySeries(
  runs: string[],
  metrics: string[],
  options: SeriesRequest = {},
  signal?: AbortSignal,
): Promise<Series[]> {
  const requests: Promise<{ series: Series[] }>[] = [];
  for (let r = 0; r < runs.length; r += SERIES_QUERY_MAX_RUNS) {
    for (let m = 0; m < metrics.length; m += SERIES_QUERY_MAX_METRICS) {
      const body = {
        runs: runs.slice(r, r + SERIES_QUERY_MAX_RUNS),
        metrics: metrics.slice(m, m + SERIES_QUERY_MAX_METRICS),
        x: options.x ?? "step",
        points: options.points ?? 1000,
        x_min: options.xMin ?? null,
        x_max: options.xMax ?? null,
      };
      requests.push(request<{ series: Series[] }>("/series/query", { method: "POST", body: JSON.stringify(body) }, signal));
    }
  }
  return (await Promise.all(requests)).flatMap((page) => page.series);
}

// -- names, counts, group bands, tags (the dashboard's helper routes) -------------------------

export type NameKind = "params" | "outputs" | "metrics" | "tags";

export interface NameCount {
  name: string;
  /** How many runs of the project have it. */
  runs: number;
}

/** Names a project's runs use, most used first; `q` keeps those containing it. */
export async function listNames(
  kind: NameKind, project: string | null, q = "", limit = 200, signal?: AbortSignal,
): Promise<{ names: NameCount[]; truncated: boolean }> {
  return request(`/names${queryString({ kind, project, q, limit })}`, {}, signal);
}

/** How many runs match `filter` (the filter language of /runs). */
export async function countRuns(project: string | null, filter: string | null, signal?: AbortSignal): Promise<number> {
  return (await request<{ count: number }>(`/runs/count${queryString({ project, filter })}`, {}, signal)).count;
}

export interface GroupBand {
  value: Json;
  runs: string[];
  x: number[];
  mean: (number | null)[];
  min: (number | null)[];
  max: (number | null)[];
  runs_in_bucket: number[];
  non_finite: number;
}

export interface GroupBands {
  metric: string;
  group_by: string;
  /** The x of the grid: step, wall, relative, or metric:<name> (each run's <name> at the same step). */
  x_axis: XAxis;
  raw: boolean;
  groups: GroupBand[];
  missing: string[];
}

/** Runs grouped by a param: each group's mean and min/max band, computed on the server (over any
 * x-axis, another metric's value included). */
export function groupBands(
  runs: string[], metric: string, groupBy: string, options: SeriesRequest = {}, signal?: AbortSignal,
): Promise<GroupBands> {
  const body = { runs, metric, group_by: groupBy, x: options.x ?? "step", points: options.points ?? 500,
    x_min: options.xMin ?? null, x_max: options.xMax ?? null };
  return request<GroupBands>("/series/groups", { method: "POST", body: JSON.stringify(body) }, signal);
}

/** Replace a run's tags (needs a write token on a team server; open on a local `labbook ui`). */
export function setTags(uuid: string, tags: string[], signal?: AbortSignal): Promise<RunDetail> {
  return request<RunDetail>(`/runs/${encodeURIComponent(uuid)}/tags`, { method: "POST", body: JSON.stringify({ tags, reset: true }) }, signal);
}

/** A text file of a run folder (the captured diff, a log), as text. */
export async function runFileText(uuid: string, path: string, signal?: AbortSignal): Promise<string> {
  const headers = authHeaders();
  const url = `${apiBase()}/runs/${encodeURIComponent(uuid)}/files/${path.split("/").map(encodeURIComponent).join("/")}`;
  const response = await fetch(url, { headers, signal });
  if (!response.ok) throw new ApiError(response.status, "http_error", `${response.status} reading ${path}`);
  return response.text();
}

/** The runs at positions [offset, offset + limit) of the ordering (a table's scrollbar jump). */
export function runWindow(search: RunSearch & { offset: number }, signal?: AbortSignal): Promise<RunPage> {
  const qs = queryString({
    project: search.project, filter: search.filter, order_by: search.orderBy ?? [], columns: search.columns ?? [],
    only_columns: search.onlyColumns || undefined, offset: search.offset, limit: search.limit,
  });
  return request<RunPage>(`/runs/window${qs}`, {}, signal);
}

/** The one request function, for API modules of other pages (api2.ts). */
export const apiRequest = request;

/** The URL of an API path, for elements that load it themselves (img, audio, iframe). */
export function apiUrl(path: string): string {
  return `${apiBase()}${path}`;
}
