import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { keepPreviousData, useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { ApiError, countRuns, listNames, searchRuns, type NameCount, type NameKind } from "../api";
import { availableColumns, parseColumn, SUMMARY_ATTRS } from "../columns";
import { namesOf, quoteName, quoteParam, type Names } from "../completion";
import { ColumnChooser } from "../components/ColumnChooser";
import { FilterBox } from "../components/FilterBox";
import { ErrorBox } from "../components/Layout";
import { formatCount } from "../format";
import { RunsTable } from "../components/RunsTable";
import { TagsCell } from "../components/TagsCell";
import { anyLive, defaultColumns } from "../runsDefaults";
import { countKey, FIRST_RUNS_PAGE, namesKey, RUNS_PAGE, runsKey } from "../prefetch";
import { useRunWindows } from "../runWindows";
import { decodeRunsView, DEFAULT_COLUMNS, encodeRunsView, nextSort, type RunsView } from "../url";

const NAMES = 1000; // names per kind for completion and the chooser; more are searched on the server
const LIVE_MS = 3000; // running runs' rows are re-read this often
const LIVE_PAGES = 5; // ... while at most this many pages are loaded
const WINDOW_FROM = 2000; // more matching runs than this: rows are read by position where the table shows them

function useNames(project: string, kind: NameKind, enabled: boolean) {
  return useQuery({
    queryKey: namesKey(project, kind),
    queryFn: ({ signal }) => listNames(kind, project, "", NAMES, signal),
    staleTime: 60_000,
    enabled,
  });
}

const plain = (names: NameCount[] | undefined) => (names ?? []).map((n) => n.name);

export default function Runs() {
  const { project = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  // The names (default columns, completion, the chooser) are asked for once the first rows are
  // in and painted: they would compete with them for a cold server (and, on a machine it shares,
  // for the CPU the browser paints with), and the first rows need none of them.
  const [firstIn, setFirstIn] = useState(false);
  const params = useNames(project, "params", firstIn);
  const outputs = useNames(project, "outputs", firstIn);
  const metrics = useNames(project, "metrics", firstIn);
  const defaults = useMemo(
    () => (params.data && metrics.data ? defaultColumns(params.data.names, metrics.data.names) : DEFAULT_COLUMNS),
    [params.data, metrics.data],
  );
  const view = useMemo(() => decodeRunsView(search, defaults), [search, defaults]);
  const navigate = useNavigate();
  const update = useCallback(
    (change: Partial<RunsView>, replace = false) => setSearch(encodeRunsView({ ...view, ...change }, defaults), { replace }),
    [view, setSearch, defaults],
  );

  const columnsRef = useRef(view.columns);
  columnsRef.current = view.columns;
  const runs = useInfiniteQuery({
    queryKey: runsKey(project, view.filter, view.sort), // the route asked for the first page already (prefetch.ts)
    // Rows carry only the visible columns' values (not every param and metric of every run); a
    // change of columns re-reads the loaded pages in place (below) rather than starting over.
    queryFn: ({ pageParam, signal }) =>
      searchRuns({ project, filter: view.filter || null, orderBy: view.sort, columns: columnsRef.current, onlyColumns: true,
                   limit: pageParam === null ? FIRST_RUNS_PAGE : RUNS_PAGE, cursor: pageParam }, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
    placeholderData: keepPreviousData,
    retry: false,
    refetchInterval: (query) => {
      const pages = query.state.data?.pages ?? [];
      return pages.length <= LIVE_PAGES && anyLive(pages.flatMap((p) => p.runs)) ? LIVE_MS : false;
    },
  });
  const settled = runs.data !== undefined || runs.isError;
  useEffect(() => {
    if (!settled || firstIn) return;
    let timer = 0;
    const frame = requestAnimationFrame(() => { timer = window.setTimeout(() => setFirstIn(true)); }); // after that frame
    return () => { cancelAnimationFrame(frame); clearTimeout(timer); };
  }, [settled, firstIn]);
  const dataColumns = useMemo(() => JSON.stringify(view.columns.filter((c) => parseColumn(c).kind !== "run").sort()), [view.columns]);
  const readColumns = useRef(dataColumns);
  const { refetch } = runs;
  useEffect(() => {
    if (readColumns.current === dataColumns) return;
    readColumns.current = dataColumns;
    void refetch();
  }, [dataColumns, refetch]);
  const count = useQuery({
    queryKey: countKey(project, view.filter),
    queryFn: ({ signal }) => countRuns(project, view.filter || null, signal),
    retry: false,
    placeholderData: keepPreviousData,
  });
  const total = useQuery({
    queryKey: countKey(project, ""),
    queryFn: ({ signal }) => countRuns(project, null, signal),
    enabled: !!view.filter,
  });

  const counted = count.isPlaceholderData ? undefined : count.data; // not the previous filter's
  const windowed = (counted ?? 0) > WINDOW_FROM && !runs.isError;
  const windowSearch = useMemo(() => ({ project, filter: view.filter || null, orderBy: view.sort, columns: view.columns, onlyColumns: true }),
    [project, view.filter, view.sort, view.columns]);
  const windows = useRunWindows(windowSearch, counted ?? 0, windowed);
  const rows = useMemo(() => (runs.isError ? [] : runs.data?.pages.flatMap((p) => p.runs) ?? []), [runs.data, runs.isError]);
  const names = useMemo<Names>(() => {
    const seen = namesOf(rows);
    const merge = (a: string[], b: string[]) => [...new Set([...a, ...b])];
    return { params: merge(plain(params.data?.names), seen.params), outputs: merge(plain(outputs.data?.names), seen.outputs),
      metrics: merge(plain(metrics.data?.names), seen.metrics) };
  }, [rows, params.data, outputs.data, metrics.data]);
  const available = useMemo(() => availableColumns(names), [names]);
  const lookup = useCallback(async (q: string, signal: AbortSignal) => {
    const [p, o, m] = await Promise.all((["params", "outputs", "metrics"] as NameKind[]).map((k) => listNames(k, project, q, 200, signal)));
    return [...p.names.map((n) => `params.${quoteParam(n.name)}`), ...o.names.map((n) => `outputs.${quoteParam(n.name)}`),
      ...m.names.flatMap((n) => SUMMARY_ATTRS.map((a) => `metrics.${quoteName(n.name)}.${a}`))];
  }, [project]);
  const selected = useMemo(() => new Set(view.selected), [view.selected]);
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = runs;
  // The next page waits for the count: past WINDOW_FROM runs the table reads windows where it
  // is scrolled to instead, and a 200-row page asked for beside the first one's paint only
  // slows that paint (the first page fills the screen).
  const countKnown = counted !== undefined || count.isError;
  const needMore = useCallback(() => {
    if (hasNextPage && !isFetchingNextPage && countKnown) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage, countKnown]);

  const toggle = (uuid: string) =>
    update({ selected: selected.has(uuid) ? view.selected.filter((u) => u !== uuid) : [...view.selected, uuid] }, true);
  const toggleAll = () => {
    const all = rows.every((r) => selected.has(r.uuid));
    const loaded = new Set(rows.map((r) => r.uuid));
    update({ selected: all ? view.selected.filter((u) => !loaded.has(u)) : [...new Set([...view.selected, ...loaded])] }, true);
  };
  const compare = () => {
    const params = new URLSearchParams();
    view.selected.forEach((u) => params.append("run", u));
    navigate(`/compare?${params}`);
  };
  const filterError = runs.isError ? runs.error : null;
  const inFilterBox = filterError instanceof ApiError && (filterError.field === "filter" || filterError.code === "bad_query");
  const matching = counted ?? (runs.isFetching || runs.hasNextPage ? undefined : rows.length);
  const firstPage = runs.data?.pages[0]?.runs;
  const rowAt = useCallback(
    (index: number) => (firstPage && index < firstPage.length ? firstPage[index] : windows.rowAt(index)),
    [firstPage, windows],
  );
  // Positions past the first page are read by window; none before the first page is in (the
  // count usually comes back first, and the window requests would compete with it).
  const { request: requestWindows } = windows;
  const onRange = useCallback((first: number, last: number) => {
    if (firstPage && last >= firstPage.length) requestWindows(Math.max(first, firstPage.length), last);
  }, [firstPage, requestWindows]);

  return (
    <section className="page runs-page">
      <div className="page-head">
        <h1><Link to="/">Projects</Link> / {project}</h1>
        <Link to={`/projects/${encodeURIComponent(project)}/artifacts`}>Artifacts</Link>
        <div className="counts">
          {runs.isPending ? "Loading runs…" : windowed ? `${formatCount(matching!)} runs` : `${rows.length}${runs.hasNextPage ? "+" : ""} runs`}
          {matching !== undefined && !runs.isPending ? (
            <span className="run-total" aria-label="Matching runs">
              {" · "}{view.filter ? `${formatCount(matching)} match` : `${formatCount(matching)} in all`}
              {view.filter && total.data !== undefined ? ` of ${formatCount(total.data)}` : ""}
            </span>
          ) : null}
        </div>
      </div>
      <div className="toolbar">
        <FilterBox value={view.filter} names={names} error={filterError} onApply={(filter) => update({ filter })} />
        <ColumnChooser available={available} selected={view.columns} onChange={(columns) => update({ columns }, true)}
                       lookup={lookup} lookupKey={project} />
        <button className="primary" disabled={view.selected.length < 1} onClick={compare}>
          Compare ({view.selected.length})
        </button>
        {view.selected.length ? <button onClick={() => update({ selected: [] }, true)}>Clear selection</button> : null}
      </div>
      {filterError && !inFilterBox ? <ErrorBox error={filterError} /> : null}
      <RunsTable
        rows={rows}
        total={windowed ? counted : undefined}
        rowAt={windowed ? rowAt : undefined}
        onRange={onRange}
        columns={view.columns}
        sort={view.sort}
        selected={selected}
        hasMore={!!runs.hasNextPage}
        loadingMore={runs.isFetchingNextPage}
        onSort={(column) => update({ sort: nextSort(view.sort, column) })}
        onToggle={toggle}
        onToggleAll={toggleAll}
        onNeedMore={needMore}
        renderCell={(run, column) => (column === "tags" ? <TagsCell uuid={run.uuid} tags={run.tags} /> : undefined)}
      />
      {!runs.isPending && !runs.isError && rows.length === 0 ? (
        <p className="empty">{view.filter ? "No run matches this filter." : "No runs in this project yet."}</p>
      ) : null}
    </section>
  );
}
