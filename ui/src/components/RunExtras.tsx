/** Parts of the run page: status history, readme, uncommitted diff, and the logs viewer. */
import { useEffect, useMemo, useRef, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { runFileText, runLogs, type LogLine, type RunDetail } from "../api";
import { formatDuration, formatTime } from "../format";
import { Markdown } from "../markdown";
import { ErrorBox, Loading, StatusBadge } from "./Layout";
import "../extra.css";

const LIVE = new Set(["running", "created"]);

/** Each status the run went through, when, for how long, and why (hover for the message). */
export function StatusHistory({ run }: { run: RunDetail }) {
  const conditions = run.status_conditions;
  return (
    <ol className="status-history" aria-label="Status history">
      {conditions.map((c, i) => {
        const next = conditions[i + 1]?.time;
        const span = c.time && next ? (Date.parse(next) - Date.parse(c.time)) / 1000 : null;
        const why = [c.reason, c.message].filter(Boolean).join(": ");
        return (
          <li key={i} title={why}>
            <StatusBadge status={c.status} /> {formatTime(c.time ?? null)}
            {span !== null ? ` (${formatDuration(span)})` : ""}
            {c.message && !["running", "succeeded", "created"].includes(c.status) ? <span className="why"> {why}</span> : null}
          </li>
        );
      })}
    </ol>
  );
}

export function Readme({ run }: { run: RunDetail }) {
  if (!run.readme) return null;
  return (
    <details className="readme" open>
      <summary><h2>Readme</h2></summary>
      <Markdown text={run.readme} />
    </details>
  );
}

/** The uncommitted changes captured with the run's code (code/uncommitted.diff), read when opened. */
export function CodeDiff({ run }: { run: RunDetail }) {
  const path = typeof run.code.diff_path === "string" ? run.code.diff_path : null;
  const [open, setOpen] = useState(false);
  const diff = useQuery({
    queryKey: ["diff", run.uuid],
    queryFn: ({ signal }) => runFileText(run.uuid, path!, signal),
    enabled: open && !!path,
  });
  if (!path) return null;
  return (
    <details className="code-diff" onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
      <summary><h2>Uncommitted changes</h2></summary>
      {diff.isError ? <ErrorBox error={diff.error} /> : diff.isPending ? <Loading what="the diff" /> : (
        <pre className="diff">
          {diff.data.split("\n").map((line, i) => (
            <div key={i} className={line.startsWith("+") && !line.startsWith("+++") ? "add"
              : line.startsWith("-") && !line.startsWith("---") ? "del" : line.startsWith("@@") ? "hunk" : ""}>{line || " "}</div>
          ))}
        </pre>
      )}
    </details>
  );
}

const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

export function logFilter(lines: LogLine[], q: string, stream: string, level: string, rank: string): LogLine[] {
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  const floor = LEVELS.indexOf(level);
  return lines.filter((l) => (stream === "" || l.stream === stream)
    && (rank === "" || String(l.rank) === rank)
    && (floor <= 0 || (l.level !== null && LEVELS.indexOf(l.level.toUpperCase()) >= floor))
    && words.every((w) => l.message.toLowerCase().includes(w)));
}

/** Captured output: search, stream, level and rank filters; follows a live run (polls, scrolls to the end). */
export function Logs({ run }: { run: RunDetail }) {
  const live = LIVE.has(run.status);
  const [follow, setFollow] = useState(live);
  const [q, setQ] = useState("");
  const [stream, setStream] = useState("");
  const [level, setLevel] = useState("");
  const [rank, setRank] = useState("");
  const logs = useQuery({
    queryKey: ["logs", run.uuid],
    queryFn: ({ signal }) => runLogs(run.uuid, 1000, signal),
    refetchInterval: follow && live ? 2000 : false,
  });
  const all = logs.data ?? [];
  const streams = useMemo(() => [...new Set(all.map((l) => l.stream))].sort(), [all]);
  const ranks = useMemo(() => [...new Set(all.map((l) => l.rank))].sort((a, b) => a - b), [all]);
  const shown = useMemo(() => logFilter(all, q, stream, level, rank), [all, q, stream, level, rank]);
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [shown, follow]);
  if (logs.isPending) return <Loading what="logs" />;
  if (logs.isError) return <ErrorBox error={logs.error} />;
  if (all.length === 0) return <p className="empty">No captured output.</p>;
  return (
    <div className="logs-view">
      <div className="chart-controls">
        <input aria-label="Find in output" placeholder="Find in output…" value={q} onChange={(e) => setQ(e.target.value)} />
        <label>stream <select aria-label="Stream" value={stream} onChange={(e) => setStream(e.target.value)}>
          <option value="">all</option>{streams.map((s) => <option key={s} value={s}>{s}</option>)}
        </select></label>
        <label>level ≥ <select aria-label="Level" value={level} onChange={(e) => setLevel(e.target.value)}>
          <option value="">any</option>{LEVELS.map((l) => <option key={l} value={l}>{l}</option>)}
        </select></label>
        {ranks.length > 1 ? (
          <label>rank <select aria-label="Rank" value={rank} onChange={(e) => setRank(e.target.value)}>
            <option value="">all</option>{ranks.map((r) => <option key={r} value={String(r)}>{r}</option>)}
          </select></label>
        ) : null}
        <label><input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> follow{live ? "" : " (run ended)"}</label>
        <span className="hint">{shown.length} of {all.length} lines</span>
      </div>
      <pre className="logs" aria-label="Logs" ref={box}>
        {shown.map((line, i) => (
          <div key={i} className={`log-${line.stream}${line.level ? ` level-${line.level.toLowerCase()}` : ""}`}>
            <span className="log-time">{formatTime(line.timestamp)}</span>
            {ranks.length > 1 ? <span className="log-rank">[{line.rank}]</span> : null} {line.message}
          </div>
        ))}
      </pre>
    </div>
  );
}
