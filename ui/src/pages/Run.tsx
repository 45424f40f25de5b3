import { useEffect, useMemo, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { useIsFetching, useQuery } from "@tanstack/react-query";
import { getRun, resourceSeries, type Json, type RunDetail } from "../api";
import { runColor } from "../colors";
import { ChartControls, loadChart, MetricPanels, type SeriesSource } from "../components/MetricPanels";
import { ErrorBox, Loading, StatusBadge } from "../components/Layout";
import { CodeDiff, Logs, Readme, StatusHistory } from "../components/RunExtras";
import { Tree } from "../components/Tree";
import { Markdown } from "../markdown";
import { RunArtifacts, RunLinks } from "../components/panels/RunArtifacts";
import { formatDuration, formatTime, resourceUnit } from "../format";
import { runKey } from "../prefetch";
import { seriesToLine } from "../series";
import { runMetricNames, runSource } from "../sources";
import { decodeChartView, encodeChartView } from "../url";

function commandLine(run: RunDetail): string {
  const argv = run.env.argv;
  return Array.isArray(argv) ? argv.map((a) => String(a)).map((a) => (/^[\w./=:,@+-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(" ") : "";
}

function Field({ label, children }: { label: string; children: React.ReactNode }) {
  if (children === "" || children === null || children === undefined) return null;
  return (<><dt>{label}</dt><dd>{children}</dd></>);
}

function Overview({ run }: { run: RunDetail }) {
  const code = run.code as Record<string, Json>;
  const env = { ...run.env } as Record<string, Json>;
  delete env.packages;
  return (
    <dl className="overview">
      <Field label="Project"><Link to={`/projects/${encodeURIComponent(run.project)}`}>{run.project}</Link></Field>
      <Field label="Status"><StatusBadge status={run.status} /></Field>
      <Field label="History">{run.status_conditions.length ? <StatusHistory run={run} /> : ""}</Field>
      <Field label="Run id"><code>{run.uuid}</code></Field>
      <Field label="Created">{formatTime(run.created_at)}</Field>
      <Field label="Started">{formatTime(run.started_at)}</Field>
      <Field label="Finished">{formatTime(run.finished_at)}</Field>
      <Field label="Duration">{formatDuration(run.duration)}</Field>
      <Field label="Tags">{run.tags.length ? run.tags.map((t) => <span key={t} className="tag">{t}</span>) : ""}</Field>
      <Field label="Description">{run.description ? <Markdown text={run.description} /> : ""}</Field>
      <Field label="Commit">{code.commit ? <code>{String(code.commit).slice(0, 12)}{code.dirty ? " (dirty)" : ""}</code> : ""}</Field>
      <Field label="Branch">{code.branch ? String(code.branch) : ""}</Field>
      <Field label="Remote">{code.remote ? String(code.remote) : ""}</Field>
      <Field label="Command">{commandLine(run) ? <code className="command">{commandLine(run)}</code> : ""}</Field>
      <Field label="Host">{env.hostname ? `${String(env.hostname)}${env.user ? ` (${String(env.user)})` : ""}` : ""}</Field>
      <Field label="Python">{env.python ? String(env.python) : ""}</Field>
    </dl>
  );
}

void loadChart(); // the chart's code loads while the run is asked for, not once its metrics are known

const LATER_MS = 2000; // what waits for the charts goes out after this at the latest

/** True once the page's first series requests have come back (or none went out in time): what
 * the first paint does not need (the lineage) waits until then rather than compete with them. */
function useAfterCharts(loaded: boolean, charts: boolean): boolean {
  const fetching = useIsFetching({ queryKey: ["series"] });
  const [started, setStarted] = useState(false);
  const [done, setDone] = useState(false);
  useEffect(() => {
    if (fetching > 0) setStarted(true);
    else if (started) setDone(true);
  }, [fetching, started]);
  useEffect(() => {
    if (!loaded) return;
    const timer = setTimeout(() => setDone(true), LATER_MS);
    return () => clearTimeout(timer);
  }, [loaded]);
  return loaded && (done || !charts);
}

export default function Run() {
  const { uuid = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  const [logsOpen, setLogsOpen] = useState(false); // read when opened: not a request racing the charts
  const view = useMemo(() => decodeChartView(search), [search]);
  const run = useQuery({
    queryKey: runKey(uuid), // the route asked for it already (prefetch.ts)
    queryFn: ({ signal }) => getRun(uuid, signal),
    // a live run is re-read (status, summaries, new metric names); its charts re-read on change
    refetchInterval: (query) => (["running", "created"].includes(query.state.data?.status ?? "") ? 5000 : false),
  });
  const source = useMemo<SeriesSource>(() => runSource(uuid), [uuid]); // as the route's prefetch (sources.ts)
  const system = useMemo<SeriesSource>(() => ({
    key: [uuid, "resources"],
    fetch: async (name, range, signal) => {
      const series = await resourceSeries(uuid, name, range, signal);
      return [{ key: uuid, label: name, color: runColor(uuid), line: seriesToLine(series) }];
    },
  }), [uuid]);
  const metricCount = run.data ? runMetricNames(run.data).length : 0;
  const later = useAfterCharts(!!run.data, metricCount > 0);
  if (run.isPending) return <Loading what="the run" />;
  if (run.isError) return <ErrorBox error={run.error} />;
  const data = run.data;
  const metricNames = runMetricNames(data);
  const env = { ...data.env };
  return (
    <section className="page run-page">
      <div className="page-head">
        <h1>
          <Link to="/">Projects</Link> / <Link to={`/projects/${encodeURIComponent(data.project)}`}>{data.project}</Link> / {data.name ?? data.uuid.slice(0, 8)}
        </h1>
        <StatusBadge status={data.status} />
        <RunLinks run={data} />
      </div>
      <Overview run={data} />
      <Readme run={data} />
      <div className="two-col">
        <div>
          <h2>Params</h2>
          <Tree value={data.inputs} label="params" />
        </div>
        <div>
          <h2>Outputs</h2>
          <Tree value={data.outputs} label="outputs" />
        </div>
      </div>
      <RunArtifacts run={data} enabled={later} />
      <h2>Metrics <span className="count">{metricNames.length}</span></h2>
      <ChartControls view={view} metrics={metricNames} onChange={(next) => setSearch(encodeChartView(next, search), { replace: true })} />
      <MetricPanels names={metricNames} source={source} view={view} />
      {data.resources.length ? (
        <>
          <h2>System <span className="count">{data.resources.length}</span></h2>
          {/* resources are sampled in time, not in steps */}
          <MetricPanels names={data.resources} source={system} separator="." unit={resourceUnit} view={{ ...view, x: view.x === "step" || view.x.startsWith("metric:") ? "relative" : view.x }} />
        </>
      ) : null}
      <details className="logs-section" onToggle={(e) => setLogsOpen(e.currentTarget.open)}>
        <summary><h2>Logs</h2></summary>
        {logsOpen ? <Logs run={data} /> : null}
      </details>
      <CodeDiff run={data} />
      <details className="environment">
        <summary><h2>Environment</h2></summary>
        <Tree value={env} label="environment" />
      </details>
    </section>
  );
}
