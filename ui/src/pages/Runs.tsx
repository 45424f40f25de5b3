import { useCallback, useMemo } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { keepPreviousData, useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { ApiError, listProjects, searchRuns } from "../api";
import { availableColumns } from "../columns";
import { namesOf } from "../completion";
import { ColumnChooser } from "../components/ColumnChooser";
import { FilterBox } from "../components/FilterBox";
import { ErrorBox } from "../components/Layout";
import { RunsTable } from "../components/RunsTable";
import { decodeRunsView, encodeRunsView, nextSort, type RunsView } from "../url";

const PAGE = 200;

export default function Runs() {
  const { project = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  const view = useMemo(() => decodeRunsView(search), [search]);
  const navigate = useNavigate();
  const update = useCallback(
    (change: Partial<RunsView>, replace = false) => setSearch(encodeRunsView({ ...view, ...change }), { replace }),
    [view, setSearch],
  );

  const runs = useInfiniteQuery({
    queryKey: ["runs", project, view.filter, view.sort],
    queryFn: ({ pageParam, signal }) =>
      searchRuns({ project, filter: view.filter || null, orderBy: view.sort, limit: PAGE, cursor: pageParam }, signal),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
    placeholderData: keepPreviousData,
    retry: false,
  });
  const projects = useQuery({ queryKey: ["projects"], queryFn: ({ signal }) => listProjects(signal) });
  const total = projects.data?.find((p) => p.name === project)?.run_count;

  const rows = useMemo(() => (runs.isError ? [] : runs.data?.pages.flatMap((p) => p.runs) ?? []), [runs.data, runs.isError]);
  const names = useMemo(() => namesOf(rows), [rows]);
  const available = useMemo(() => availableColumns(names), [names]);
  const selected = useMemo(() => new Set(view.selected), [view.selected]);
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = runs;
  const needMore = useCallback(() => {
    if (hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);

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

  return (
    <section className="page runs-page">
      <div className="page-head">
        <h1><Link to="/">Projects</Link> / {project}</h1>
        <Link to={`/projects/${encodeURIComponent(project)}/artifacts`}>Artifacts</Link>
        <div className="counts">
          {runs.isPending ? "Loading runs…" : `${rows.length}${runs.hasNextPage ? "+" : ""} runs`}
          {total !== undefined && view.filter ? ` (of ${total} in the project)` : ""}
        </div>
      </div>
      <div className="toolbar">
        <FilterBox value={view.filter} names={names} error={filterError} onApply={(filter) => update({ filter })} />
        <ColumnChooser available={available} selected={view.columns} onChange={(columns) => update({ columns }, true)} />
        <button className="primary" disabled={view.selected.length < 1} onClick={compare}>
          Compare ({view.selected.length})
        </button>
        {view.selected.length ? <button onClick={() => update({ selected: [] }, true)}>Clear selection</button> : null}
      </div>
      {filterError && !inFilterBox ? <ErrorBox error={filterError} /> : null}
      <RunsTable
        rows={rows}
        columns={view.columns}
        sort={view.sort}
        selected={selected}
        hasMore={!!runs.hasNextPage}
        loadingMore={runs.isFetchingNextPage}
        onSort={(column) => update({ sort: nextSort(view.sort, column) })}
        onToggle={toggle}
        onToggleAll={toggleAll}
        onNeedMore={needMore}
      />
      {!runs.isPending && !runs.isError && rows.length === 0 ? (
        <p className="empty">{view.filter ? "No run matches this filter." : "No runs in this project yet."}</p>
      ) : null}
    </section>
  );
}
