"""labbook against the orjson-lines baseline and its fastest peers, every figure in a fresh process.

Run it with ``.venv/bin/python bench/bench_fresh.py`` (``--quick`` for smaller sizes and fewer
repetitions, ``--smoke`` for seconds, ``--no-peers`` / ``--no-mlflow`` to leave peers out). Each
measurement is one new interpreter that imports its library (not timed, as a training script
has), measures once and exits; the repetitions are interleaved (repetition 1 of every system and
figure, then repetition 2, ...), so a slow minute of a shared machine spreads over all of them.
The figures are medians; every figure is also printed as a ratio to the baseline and to the
fastest peer, and the closing lines check issue 14's targets (PASS / MISS). The figures,
every repetition's value and the verdicts go to ``bench/results/fresh.json`` (``--json``);
``--table JSON`` prints a saved result as the Markdown tables of docs/benchmarks.md.

Systems (docs/benchmarks.md says what each figure means):

* ``baseline``: one orjson line per record appended to a buffered file; a "run" is a folder
  with a run.json (bench/fresh_labbook.py).
* ``labbook``: ``tracking.init(...)`` with code, environment, log and resource capture off,
  as the peers run; ``labbook+capture``: with every capture on (tracking.init's defaults).
* ``tensorboardx``, ``dvclive``, ``mlflow-file``, ``mlflow-sqlite``: each in its own virtual
  environment, created and installed on first use (bench/peers.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peers  # noqa: E402  (bench/ is not a package)
from report import machine  # noqa: E402

SIZES: dict[str, dict[str, Any]] = {
    "full": {"reps": 5, "calls": 100_000, "metrics": 10, "steps": 10_000, "peer_calls": 100_000,
             "peer_steps": 10_000, "runs": 1_000,
             "capture_runs": 200, "mlflow_runs": 200, "search_runs": 1_000, "search_reps": 5},
    "quick": {"reps": 3, "calls": 100_000, "metrics": 10, "steps": 10_000, "peer_calls": 10_000,
              "peer_steps": 1_000, "runs": 200,
              "capture_runs": 100, "mlflow_runs": 50, "search_runs": 1_000, "search_reps": 3},
    "smoke": {"reps": 1, "calls": 2_000, "metrics": 10, "steps": 200, "peer_calls": 2_000,
              "peer_steps": 200, "runs": 5,
              "capture_runs": 2, "mlflow_runs": 2, "search_runs": 10, "search_reps": 1},
}
LABBOOK = ("labbook", "labbook+capture")
PEERS = ("tensorboardx", "dvclive", "mlflow-file", "mlflow-sqlite")
# task -> the systems that run it
TASKS = {
    "log_metric": ("baseline", *LABBOOK, "tensorboardx", "dvclive"),
    "log_metrics": ("baseline", *LABBOOK, "tensorboardx", "dvclive"),
    "create_runs": ("baseline", *LABBOOK, *PEERS),
    "first_run": ("baseline", *LABBOOK, *PEERS),
    "search": ("labbook",),
}
FIGURES = {  # figure -> (label, unit, scale from the worker's value)
    "log_metric.call_us": ("100k log_metric, caller per call", "us", 1.0),
    "log_metric.durable_us": ("100k log_metric, until durable, per point", "us", 1.0),
    "log_metrics.call_us": ("10 metrics x 10k steps via log_metrics, caller per point", "us", 1.0),
    "log_metrics.durable_us": ("10 metrics x 10k steps via log_metrics, until durable, per point", "us", 1.0),
    "create_runs.ms_per_run": ("create runs, per run", "ms", 1.0),
    "first_run.s": ("first empty run in a new home (fresh process)", "s", 1.0),
    "log_metric.peak_mb": ("peak memory while logging 100k points", "MB", 1.0),
    "search.list_ms": ("search_runs listing every run", "ms", 1.0),
    "search.sql_ms": ("the same rows by plain SQL (sqlite3)", "ms", 1.0),
}
# (label, figure, system, reference: "baseline", "peers" (the best peer) or a figure, limit)
TARGETS = (
    ("log_metric caller <= 1.5x baseline (capture off)", "log_metric.call_us", "labbook", "baseline", 1.5),
    ("log_metric until durable <= 1.5x baseline (capture off)", "log_metric.durable_us", "labbook", "baseline", 1.5),
    ("log_metric caller <= 2x baseline (capture on)", "log_metric.call_us", "labbook+capture", "baseline", 2.0),
    ("log_metric until durable <= 2x baseline (capture on)", "log_metric.durable_us", "labbook+capture", "baseline", 2.0),
    ("log_metrics until durable <= 3x baseline", "log_metrics.durable_us", "labbook", "baseline", 3.0),
    ("create runs faster than the fastest peer (capture off)", "create_runs.ms_per_run", "labbook", "peers", 1.0),
    ("create runs within 3x the fastest peer (capture on)", "create_runs.ms_per_run", "labbook+capture", "peers", 3.0),
    ("first empty run no slower than the fastest peer", "first_run.s", "labbook", "peers", 1.0),
    ("peak memory (100k points) no higher than the lowest peer", "log_metric.peak_mb", "labbook", "peers", 1.0),
    ("search_runs over the runs within 2x its SQL time", "search.list_ms", "labbook", "search.sql_ms", 2.0),
)


class Systems:
    """How to start a worker for each system; peers whose environment is missing are left out."""

    def __init__(self, peer_names: list[str], install: bool) -> None:
        self.workers: dict[str, tuple[Path, Path, dict[str, Any]]] = {
            "baseline": (Path(sys.executable), HERE / "fresh_labbook.py", {"system": "baseline"}),
            "labbook": (Path(sys.executable), HERE / "fresh_labbook.py",
                        {"system": "labbook", "capture": "off"}),
            "labbook+capture": (Path(sys.executable), HERE / "fresh_labbook.py",
                                {"system": "labbook", "capture": "on"}),
        }
        self.versions: dict[str, str] = {}
        for env, module, systems in (("tensorboardx", "tensorboardX", ("tensorboardx",)),
                                     ("dvclive", "dvclive", ("dvclive",)),
                                     ("mlflow", "mlflow", ("mlflow-file", "mlflow-sqlite"))):
            wanted = [s for s in systems if s in peer_names]
            if not wanted:
                continue
            try:
                python = peers.peer_python(env, install=install)
            except peers.PeerUnavailable as error:
                print(f"[{env}] not measured: {error}", flush=True)
                continue
            self.versions[env] = peers.peer_version(python, module)
            for system in wanted:
                extra = {"store": system.split("-")[1]} if env == "mlflow" else {}
                self.workers[system] = (python, HERE / f"peer_{env}.py", extra)

    def measure(self, system: str, task: str, sizes: dict[str, Any], tmp: Path,
                **extra: Any) -> dict[str, float]:
        python, script, base = self.workers[system]
        root = tempfile.mkdtemp(dir=tmp, prefix=f"{system}-{task}-")
        spec = {**sizes, **base, **extra, "task": task, "root": root}
        if task == "create_runs":
            spec["runs"] = (sizes["capture_runs"] if system == "labbook+capture"
                            else sizes["mlflow_runs"] if system.startswith("mlflow") else sizes["runs"])
        found = {}
        for message in peers.run_worker(python, script, spec, timeout=900):
            if "error" in message:
                print(f"    [{system}] {task} failed: {message.get('message')}", flush=True)
            else:
                found[message["figure"]] = message["value"]
        return found


def summarise(values: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    """Medians per figure and system, each with its ratio to the baseline and the best peer."""
    out: dict[str, Any] = {}
    for figure, by_system in values.items():
        medians = {system: statistics.median(v) for system, v in by_system.items() if v}
        peer_medians = {s: m for s, m in medians.items() if s in PEERS}
        best_peer = min(peer_medians, key=peer_medians.get) if peer_medians else None
        rows = {}
        for system, median in medians.items():
            row: dict[str, Any] = {"median": median, "values": by_system[system]}
            if medians.get("baseline"):
                row["x_baseline"] = median / medians["baseline"]
            if best_peer and peer_medians[best_peer]:
                row["x_best_peer"] = median / peer_medians[best_peer]
            rows[system] = row
        out[figure] = {"best_peer": best_peer, "systems": rows}
    return out


def check(summary: dict[str, Any]) -> list[dict[str, Any]]:
    verdicts = []
    for label, figure, system, reference, limit in TARGETS:
        rows = summary.get(figure, {}).get("systems", {})
        value = rows.get(system, {}).get("median")
        if reference == "baseline":
            ref_name, ref = "baseline", rows.get("baseline", {}).get("median")
        elif reference == "peers":
            ref_name = summary.get(figure, {}).get("best_peer")
            ref = rows.get(ref_name, {}).get("median") if ref_name else None
        else:
            ref_name, ref = reference, summary.get(reference, {}).get("systems", {}).get(system, {}).get("median")
        if value is None or not ref:
            verdict, ratio = "SKIP", None
        else:
            ratio = value / ref
            verdict = "PASS" if ratio <= limit else "MISS"
        verdicts.append({"target": label, "figure": figure, "system": system, "value": value,
                         "reference": ref_name, "reference_value": ref, "ratio": ratio,
                         "limit": limit, "verdict": verdict})
    return verdicts


def print_summary(summary: dict[str, Any], verdicts: list[dict[str, Any]]) -> None:
    for figure, (label, unit, _) in FIGURES.items():
        if figure not in summary:
            continue
        entry = summary[figure]
        print(f"\n== {label} ({unit}, median) ==")
        for system, row in sorted(entry["systems"].items(), key=lambda item: item[1]["median"]):
            ratios = []
            if "x_baseline" in row and system != "baseline":
                ratios.append(f"{row['x_baseline']:.2f}x baseline")
            if "x_best_peer" in row and system != entry["best_peer"]:
                ratios.append(f"{row['x_best_peer']:.2f}x {entry['best_peer']}")
            print(f"  {system:<16} {row['median']:>12.4f}  n={len(row['values'])}  " + ", ".join(ratios))
    print("\n== targets (issue 14) ==")
    for v in verdicts:
        shown = f"{v['ratio']:.2f}" if v["ratio"] is not None else "n/a"
        print(f"{v['verdict']}  {v['target']:<60} ratio {shown} (limit {v['limit']:g}, vs {v['reference']})")


def markdown(path: Path) -> str:
    """A saved result (``--json``) as the Markdown tables of docs/benchmarks.md."""
    data = json.loads(path.read_text())
    info = data["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in data["versions"].items())
    systems = [s for s in ("baseline", *LABBOOK, *PEERS)
               if any(s in data["summary"].get(f, {}).get("systems", {}) for f in FIGURES)]
    lines = [f"Measured {info['date']} ({data['mode']} run, {data['sizes']['reps']} interleaved "
             f"repetitions, a fresh process each), labbook {info['labbook_commit']}, {versions}, "
             f"Python {info['python']}, {info['cpus']} CPUs ({info['cpu']}); load average at the "
             f"start {info.get('load_average')}. Medians; in brackets the ratio to the baseline.", "",
             "| Figure | " + " | ".join(systems) + " |", "|---|" + "---:|" * len(systems)]
    for figure, (label, unit, _) in FIGURES.items():
        entry = data["summary"].get(figure)
        if not entry:
            continue
        cells = []
        for system in systems:
            row = entry["systems"].get(system)
            if row is None:
                cells.append("")
                continue
            ratio = f" ({row['x_baseline']:.2f}×)" if "x_baseline" in row and system != "baseline" else ""
            cells.append(f"{row['median']:,.4g}{ratio}")
        lines.append(f"| {label} ({unit}) | " + " | ".join(cells) + " |")
    lines += ["", "| Target | labbook | reference | Ratio | Limit | |", "|---|---:|---:|---:|---:|---|"]
    for v in data["targets"]:
        ratio = f"{v['ratio']:.2f}" if v["ratio"] is not None else "n/a"
        value = f"{v['value']:,.4g}" if v["value"] is not None else "n/a"
        ref = f"{v['reference_value']:,.4g} ({v['reference']})" if v["reference_value"] else "n/a"
        lines.append(f"| {v['target']} | {value} | {ref} | {ratio} | {v['limit']:g} | {v['verdict']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smaller sizes, 3 repetitions")
    mode.add_argument("--smoke", action="store_true", help="tiny sizes, no peers (seconds; for tests)")
    parser.add_argument("--no-peers", action="store_true", help="baseline and labbook only")
    parser.add_argument("--no-mlflow", action="store_true", help="leave MLflow out")
    parser.add_argument("--no-install", action="store_true", help="use only peers already installed")
    parser.add_argument("--only", action="append", default=[], choices=sorted(TASKS),
                        help="run only this workload (repeatable)")
    parser.add_argument("--json", type=Path, help="where the result goes "
                        "(default: bench/results/fresh.json, except with --smoke)")
    parser.add_argument("--table", type=Path, metavar="JSON", help="print a saved result as Markdown, and exit")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown(args.table))
        return 0
    mode_name = "smoke" if args.smoke else "quick" if args.quick else "full"
    sizes = SIZES[mode_name]
    peer_names = [] if args.smoke or args.no_peers else [
        p for p in PEERS if not (args.no_mlflow and p.startswith("mlflow"))]
    started = time.perf_counter()
    for key in [k for k in os.environ if k.startswith("LABBOOK_") and not k.startswith("LABBOOK_BENCH_")]:
        del os.environ[key]  # every worker sets its own LABBOOK_HOME
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # imports from bytecode, as after pip install
    info = machine()
    print(f"labbook fresh-process benchmark ({mode_name}) {info['date']} | {info['cpus']} CPUs "
          f"{info['cpu']} | load {info['load_average']} | labbook {info['labbook_commit']}", flush=True)
    systems = Systems(peer_names, install=not args.no_install)
    print("peers: " + (", ".join(f"{k} {v}" for k, v in systems.versions.items()) or "none"), flush=True)
    tasks = {t: s for t, s in TASKS.items() if not args.only or t in args.only}
    values: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="labbook-bench-fresh-") as tmp_name:
        tmp = Path(tmp_name)
        search_home = None
        if "search" in tasks:
            search_home = str(tmp / "search-home" / ".labbook")
            found = systems.measure("labbook", "search_setup", {**sizes, "runs": sizes["search_runs"]},
                                    tmp, home=search_home)
            print(f"search workload: {sizes['search_runs']:,} runs logged in "
                  f"{found.get('search.setup_s', float('nan')):.1f} s (setup, not a figure)", flush=True)
        for rep in range(sizes["reps"]):
            print(f"\n-- repetition {rep + 1}/{sizes['reps']}", flush=True)
            for task, task_systems in tasks.items():
                for system in task_systems:
                    if system not in systems.workers:
                        continue
                    extra = {"home": search_home, "runs": sizes["search_runs"]} if task == "search" else {}
                    found = systems.measure(system, task, sizes, tmp, **extra)
                    for figure, value in found.items():
                        values.setdefault(figure, {}).setdefault(system, []).append(value)
                    shown = ", ".join(f"{k} {v:.4g}" for k, v in found.items())
                    print(f"  {task:<12} {system:<16} {shown}", flush=True)
    summary = summarise(values)
    verdicts = check(summary)
    print_summary(summary, verdicts)
    print(f"\ntotal {time.perf_counter() - started:.0f} s", flush=True)
    out = args.json or (None if args.smoke else HERE / "results" / "fresh.json")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"mode": mode_name, "sizes": sizes, "machine": info,
                                   "versions": systems.versions, "summary": summary,
                                   "targets": verdicts}, indent=1))
        print(f"result written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
