import { useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { groupBands } from "../api";
import { differingParams, groupColors, metricNames, paramGroups, paramValue } from "../compare";
import { groupLabel, groupLine, type Attr } from "../compareViews";
import { ParallelCoordinates, Scatter } from "../components/CompareViews";
import "../extra.css";
import { ChartControls, MetricPanels, type SeriesSource } from "../components/MetricPanels";
import { ErrorBox, Loading, StatusBadge } from "../components/Layout";
import { formatValue } from "../format";
import { compareRunsKey, compareUuids, fetchCompareRuns } from "../prefetch";
import { compareColors, compareLabels, compareSource } from "../sources";
import { decodeChartView, encodeChartView } from "../url";

export default function Compare() {
  const [search, setSearch] = useSearchParams();
  const uuids = useMemo(() => compareUuids(search), [search]);
  const view = useMemo(() => decodeChartView(search), [search]);
  const [allParams, setAllParams] = useState(false);
  // the route asked for the runs and the first charts' lines already (prefetch.ts, sources.ts)
  const runs = useQuery({ queryKey: compareRunsKey(uuids), queryFn: ({ signal }) => fetchCompareRuns(uuids, signal), enabled: uuids.length > 0 });
  const colors = useMemo(() => compareColors(uuids), [uuids]);
  const rows = useMemo(() => runs.data ?? [], [runs.data]);
  const labels = useMemo(() => compareLabels(rows), [rows]);
  const groupBy = search.get("group") ?? "";
  const source = useMemo<SeriesSource>(() => groupBy ? {
    key: [...rows.map((r) => r.uuid), `group:${groupBy}`],
    bandsAlways: true, // the band is the group's only extreme
    fetch: async (name, range, signal) => {
      const answer = await groupBands(rows.map((r) => r.uuid), name, groupBy, range, signal);
      const colorOf = groupColors(answer.groups.map((g) => g.value)); // as the legend (paramGroups) colours them
      return answer.groups.map((g) => ({
        key: JSON.stringify(g.value), label: groupLabel(groupBy, g.value, g.runs.length),
        color: colorOf.get(JSON.stringify(g.value)) ?? "#555", line: groupLine(g, answer.raw),
      }));
    },
  } : compareSource(rows, labels, colors), [rows, labels, colors, groupBy]);

  if (uuids.length === 0) return <section className="page"><h1>Compare</h1><p className="empty">Select runs in a project's runs table, then press Compare.</p></section>;
  if (runs.isPending) return <Loading what="runs" />;
  if (runs.isError) return <ErrorBox error={runs.error} />;

  const remove = (uuid: string) => {
    const next = new URLSearchParams(search);
    next.delete("run");
    uuids.filter((u) => u.replace(/-/g, "").toLowerCase() !== uuid).forEach((u) => next.append("run", u));
    setSearch(next);
  };
  const params = differingParams(rows, allParams);
  const differing = differingParams(rows);
  const metrics = metricNames(rows);
  const setKey = (key: string, value: string) => {
    const next = new URLSearchParams(search);
    if (value) next.set(key, value);
    else next.delete(key);
    setSearch(next, { replace: true });
  };
  const chosenMetric = metrics.includes(search.get("metric") ?? "") ? search.get("metric")! : metrics[0] ?? null;
  const attr = (["last", "min", "max"].includes(search.get("attr") ?? "") ? search.get("attr") : "last") as Attr;
  const scatterX = differing.includes(search.get("sx") ?? "") ? search.get("sx")! : differing[0] ?? "";
  const projects = [...new Set(rows.map((r) => r.project))];
  return (
    <section className="page compare-page">
      <div className="page-head">
        <h1>
          <Link to="/">Projects</Link> / {projects.length === 1 ? <Link to={`/projects/${encodeURIComponent(projects[0])}`}>{projects[0]}</Link> : "several projects"} / compare {rows.length} runs
        </h1>
        <Link to={`/media?${rows.map((r) => `run=${r.uuid}`).join("&")}`}>Media</Link>
      </div>
      {rows.length < uuids.length ? <div className="notice">{uuids.length - rows.length} selected runs were not found.</div> : null}
      <ul className="legend" aria-label="Runs">
        {rows.map((r) => (
          <li key={r.uuid}>
            <i style={{ background: colors.get(r.uuid) }} />
            <Link to={`/runs/${r.uuid}`}>{labels.get(r.uuid)}</Link> <StatusBadge status={r.status} />
            <button className="link" aria-label={`Remove ${labels.get(r.uuid)}`} onClick={() => remove(r.uuid)}>×</button>
          </li>
        ))}
      </ul>
      <h2>Params {allParams ? "" : "that differ"} <span className="count">{params.length}</span></h2>
      <label className="inline"><input type="checkbox" checked={allParams} onChange={(e) => setAllParams(e.target.checked)} /> show all params</label>
      {params.length === 0 ? <p className="empty">{allParams ? "No params." : "Every param has the same value in these runs."}</p> : (
        <div className="wide">
          <table className="plain params-diff">
            <thead>
              <tr><th>param</th>{rows.map((r) => <th key={r.uuid}><i className="swatch" style={{ background: colors.get(r.uuid) }} /> {labels.get(r.uuid)}</th>)}</tr>
            </thead>
            <tbody>
              {params.map((k) => (
                <tr key={k}><td>{k}</td>{rows.map((r) => <td key={r.uuid} className="value">{formatValue(paramValue(r.inputs, k))}</td>)}</tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>Metrics <span className="count">{metrics.length}</span></h2>
      <ChartControls view={view} metrics={metrics}
                     onChange={(next) => setSearch(encodeChartView(next, search), { replace: true })} />
      <div className="chart-controls">
        <label>group by{" "}
          <select aria-label="Group by" value={groupBy} onChange={(e) => setKey("group", e.target.value)}>
            <option value="">(each run)</option>
            {[...new Set([...differing, ...(groupBy ? [groupBy] : [])])].map((k) => <option key={k} value={k}>{k}</option>)}
          </select>
        </label>
        {groupBy ? <span className="hint">Each line is a group's mean; the band spans its runs' min and max (computed on the server).</span> : null}
      </div>
      {groupBy ? (
        <ul className="legend group-legend" aria-label="Groups">
          {paramGroups(rows, groupBy).map((g) => (
            <li key={JSON.stringify(g.value)}><i style={{ background: g.color }} />{groupLabel(groupBy, g.value, g.runs)}</li>
          ))}
        </ul>
      ) : null}
      <MetricPanels names={metrics} source={source} view={view} />
      <h2>Params and a metric</h2>
      <div className="chart-controls">
        <label>metric{" "}
          <select aria-label="Metric to plot" value={chosenMetric ?? ""} onChange={(e) => setKey("metric", e.target.value)}>
            {metrics.map((m) => <option key={m} value={m}>{m}</option>)}
          </select>
        </label>
        <select aria-label="Summary" value={attr} onChange={(e) => setKey("attr", e.target.value === "last" ? "" : e.target.value)}>
          <option value="last">last</option><option value="min">min</option><option value="max">max</option>
        </select>
        <label>scatter x{" "}
          <select aria-label="Scatter param" value={scatterX} onChange={(e) => setKey("sx", e.target.value)}>
            {differing.map((k) => <option key={k} value={k}>{k}</option>)}
          </select>
        </label>
      </div>
      <div className="compare-views">
        <div className="view"><ParallelCoordinates runs={rows} colors={colors} labels={labels} metric={chosenMetric} attr={attr} params={differing} /></div>
        {scatterX ? <div className="view"><Scatter runs={rows} colors={colors} labels={labels} metric={chosenMetric} attr={attr} param={scatterX} /></div> : null}
      </div>
    </section>
  );
}
