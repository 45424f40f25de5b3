/**
 * What a page asks for first, asked for by its route as soon as the URL is known: in parallel
 * with the download of the page's own code, not after it. The page's queries use the same keys,
 * so they find these requests in flight (or answered) and do not repeat them.
 */
import type { QueryClient } from "@tanstack/react-query";
import { countRuns, getRun, searchRuns, MAX_PAGE, type RunDetail, type RunRow } from "./api";
import { uuidFilters } from "./compare";
import { decodeChartView, decodeRunsView } from "./url";

/** Rows in the runs table's first request (a screenful), and in each later one. */
export const FIRST_RUNS_PAGE = 50;
export const RUNS_PAGE = 200;

export const runKey = (uuid: string) => ["run", uuid];
export const runsKey = (project: string, filter: string, sort: string[]) => ["runs", project, filter, sort];
export const countKey = (project: string, filter: string) => ["runs-count", project, filter];
export const namesKey = (project: string, kind: string) => ["names", project, kind];

/** The run page's run (unless it is known already: then the page's own query decides), then the
 * lines of its first row of metric panels (sources.ts), as soon as the run names its metrics. */
export function prefetchRun(client: QueryClient, uuid: string, search: URLSearchParams): void {
  if (client.getQueryState(runKey(uuid))) return;
  const sources = import("./sources"); // beside the run: its charts' code, not the initial page's
  void client.prefetchQuery({ queryKey: runKey(uuid), queryFn: ({ signal }) => getRun(uuid, signal) }).then(async () => {
    const run = client.getQueryData<RunDetail>(runKey(uuid));
    if (!run) return;
    const { prefetchPanels, runMetricNames, runSource } = await sources;
    prefetchPanels(client, runSource(uuid), runMetricNames(run), decodeChartView(search));
  });
}

/** The compare page's runs, then the lines of its first row of metric panels (one request per
 * metric for every run), unless the runs are grouped (the page asks for the groups' bands). */
export function prefetchCompare(client: QueryClient, search: URLSearchParams): void {
  const uuids = compareUuids(search);
  const key = compareRunsKey(uuids);
  if (uuids.length === 0 || client.getQueryState(key)) return;
  const sources = import("./sources");
  void client.prefetchQuery({ queryKey: key, queryFn: ({ signal }) => fetchCompareRuns(uuids, signal) }).then(async () => {
    const rows = client.getQueryData<RunRow[]>(key);
    if (!rows?.length || search.get("group")) return;
    const s = await sources;
    const source = s.compareSource(rows, s.compareLabels(rows), s.compareColors(uuids));
    s.prefetchPanels(client, source, s.compareMetricNames(rows), decodeChartView(search));
  });
}

export const compareRunsKey = (uuids: string[]) => ["compare-runs", uuids];

/** The compare page's runs, from its URL: each uuid once, in order. */
export const compareUuids = (search: URLSearchParams) => [...new Set(search.getAll("run").filter(Boolean))];

/** The compared runs' rows, in the order of `uuids` (those found). */
export async function fetchCompareRuns(uuids: string[], signal: AbortSignal): Promise<RunRow[]> {
  const pages = await Promise.all(uuidFilters(uuids).map((filter) => searchRuns({ filter, limit: MAX_PAGE }, signal)));
  const found = new Map(pages.flatMap((p) => p.runs).map((r) => [r.uuid, r]));
  return uuids.map((u) => found.get(u.replace(/-/g, "").toLowerCase())).filter((r): r is RunRow => !!r);
}

/** The runs page's first rows (with the columns the URL names, or the default ones) and count. */
export function prefetchRuns(client: QueryClient, project: string, search: URLSearchParams): void {
  const view = decodeRunsView(search);
  // Only what is not known yet: the loader runs again on every change of the URL (a selection, a
  // sort), and what the page has loaded (more pages, other columns) is the page's own to refresh.
  // Once the project's names are known, its default columns hold its most used params and
  // metrics, which this cannot know: then the page asks for its rows itself.
  const defaultsKnown = !search.has("col") && ["params", "metrics"].some((k) => client.getQueryState(namesKey(project, k)));
  if (!defaultsKnown && !client.getQueryState(runsKey(project, view.filter, view.sort))) {
    void client.prefetchInfiniteQuery({
      queryKey: runsKey(project, view.filter, view.sort),
      queryFn: ({ pageParam, signal }) => searchRuns({
        project, filter: view.filter || null, orderBy: view.sort, columns: view.columns, onlyColumns: true,
        limit: pageParam === null ? FIRST_RUNS_PAGE : RUNS_PAGE, cursor: pageParam }, signal),
      initialPageParam: null as string | null,
      getNextPageParam: (last) => last.next_cursor,
      retry: false, // a bad filter in the URL is reported at once, as the page does
    });
  }
  if (!client.getQueryState(countKey(project, view.filter))) {
    void client.prefetchQuery({ queryKey: countKey(project, view.filter),
                                queryFn: ({ signal }) => countRuns(project, view.filter || null, signal), retry: false });
  }
}
