"""The runs table, cold, in labbook's dashboard and in MLflow's UI on the same machine and data sizes.

``.venv/bin/python bench/bench_dashboard_mlflow.py [--runs 10000,100000] [--repeat 3]``

Data, built once under ``--folder`` (``build/dashboard-mlflow``; delete it to rebuild):

* labbook: a home whose catalog holds projects ``runs-10000`` and ``runs-100000``, each run with
  20 params and 20 metric summaries, written by ``seed_runs.seed_runs`` (straight into the catalog);
* MLflow: the same runs (the same names, params and last metric values, from ``seed_runs``'s rows)
  in experiments of the same names, written straight into MLflow's SQLite tables (``runs``,
  ``params``, ``latest_metrics``, the ``mlflow.runName`` tag) with ``sqlite3``; the schema is the
  one ``mlflow server`` creates when it starts on an empty database (started once for that, with
  its experiments created through its REST API). Logging 100,000 runs through the REST API would
  take hours. The ``metrics`` history table stays empty: the runs table reads ``latest_metrics``.

Each figure starts its own server process (``labbook ui``, or ``mlflow server`` from MLflow's
environment, peers.py) and a browser with a fresh profile (Playwright driving Debian's Chromium,
headless), and is timed from ``page.goto`` until a row showing a run name (``run-NNNNNNN``) is in
the runs table and a frame has been painted. Repetitions are interleaved (labbook, MLflow, labbook,
...); medians are reported. Also the JavaScript each page loaded until then (every script response,
gzipped at level 9), and a screenshot of each UI at 100,000 runs (``--folder``/screenshots).
Figures go to ``bench/results/dashboard_mlflow.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "bench"
sys.path.insert(0, str(HERE))
import bench_dashboard  # noqa: E402  (bench/ is not a package)
import seed_runs  # noqa: E402

ROW = r"/run-\d{6,}/"
LABBOOK_READY = f"() => [...document.querySelectorAll('.rt-row[data-uuid]')].some(r => {ROW}.test(r.textContent))"
# MLflow's runs table (ag-grid in MLflow 2.x and 3.x): any grid row holding a run's name
MLFLOW_READY = (f"() => [...document.querySelectorAll('.ag-row, [role=row]')]"
                f".some(r => {ROW}.test(r.textContent))")


def timed(url: str, ready: str, screenshot: Path | None = None) -> tuple[float, int, int]:
    """Seconds from goto(url) to ``ready`` holding and a frame painted, in a fresh profile; the
    scripts loaded until then (count, bytes gzipped at level 9)."""
    from playwright.sync_api import sync_playwright

    scripts: list[Any] = []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=bench_dashboard.CHROMIUM, headless=True, args=bench_dashboard.ARGS,
            viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(180_000)
        page.on("response", lambda r: scripts.append(r) if r.request.resource_type == "script" else None)
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_function(ready, polling="raf")
        page.evaluate(bench_dashboard.PAINTED)
        seconds = time.perf_counter() - start
        loaded = list(scripts)
        size = 0
        for response in loaded:
            with contextlib.suppress(Exception):  # a script still in flight has no body yet
                size += len(gzip.compress(response.body(), 9))
        if screenshot:
            page.wait_for_timeout(1500)  # what a person sees a moment later
            page.screenshot(path=str(screenshot))
        context.close()
    return seconds, len(loaded), size


# -- data ------------------------------------------------------------------------------------------


def seed_labbook(home: Path, sizes: list[int]) -> dict[str, float]:
    from labbook.config import Settings

    url = Settings.load({}, home=home).catalog_url
    return {f"runs-{n}": seed_runs.seed_runs(url, f"runs-{n}", n, start=1_000_000 * (i + 1))
            for i, n in enumerate(sizes)}


def seed_mlflow(db: Path, experiments: dict[int, str], sizes: list[int]) -> dict[str, float]:
    """The runs of ``seed_runs`` into MLflow's tables, experiment ``experiments[n]`` for size n."""
    connection = sqlite3.connect(db)
    for pragma in ("foreign_keys=OFF", "synchronous=OFF", "cache_size=-262144"):
        connection.execute(f"PRAGMA {pragma}")
    run_columns = [row[1] for row in connection.execute("PRAGMA table_info(runs)")]
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    seconds = {}
    for i, n in enumerate(sizes):
        began = time.perf_counter()
        runs, params, metrics, tags = [], [], [], []
        for run, _, metric_rows in seed_runs._run_rows(f"runs-{n}", 1_000_000 * (i + 1), n, 20, 20, base):
            start = int(run["started_at"].timestamp() * 1000)
            row = {"run_uuid": run["uuid"], "name": run["name"], "source_type": "LOCAL", "source_name": "",
                   "entry_point_name": "", "user_id": "bench", "status": "FINISHED", "start_time": start,
                   "end_time": int(run["finished_at"].timestamp() * 1000), "deleted_time": None,
                   "source_version": "", "lifecycle_stage": "active", "artifact_uri": f"/nowhere/{run['uuid']}",
                   "experiment_id": experiments[n]}
            runs.append(tuple(row.get(c) for c in run_columns))
            params += [(key, str(value), run["uuid"]) for key, value in run["inputs"].items()]
            metrics += [(m["name"], m["last"], int(m["last_timestamp"].timestamp() * 1000), m["last_step"], 0,
                         run["uuid"]) for m in metric_rows]
            tags.append(("mlflow.runName", run["name"], run["uuid"]))
        with connection:
            connection.executemany(f"INSERT INTO runs ({', '.join(run_columns)}) "
                                   f"VALUES ({', '.join('?' * len(run_columns))})", runs)
            connection.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", params)
            connection.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                                   "VALUES (?, ?, ?, ?, ?, ?)", metrics)
            connection.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tags)
        seconds[f"runs-{n}"] = time.perf_counter() - began
    connection.execute("ANALYZE")
    connection.close()
    return seconds


def prepare(folder: Path, sizes: list[int], python: Path) -> dict[str, Any]:
    """Both data sets, built once (``ready.json`` names what was built)."""
    import httpx
    from bench_server import mlflow_server

    ready = folder / "ready.json"
    if ready.exists():
        made = json.loads(ready.read_text())
        if made["sizes"] == sizes:
            return made
        raise SystemExit(f"{folder} was built for {made['sizes']} runs, not {sizes}: delete it, or pass --folder")
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.pop("LABBOOK_CATALOG_URL", None)
    labbook_seconds = seed_labbook(folder / ".labbook", sizes)
    mlflow_folder = folder / "mlflow"
    mlflow_folder.mkdir(exist_ok=True)
    db = mlflow_folder / "mlflow.db"
    with mlflow_server(python, f"sqlite:///{db}", mlflow_folder) as host:  # creates MLflow's schema
        api = httpx.Client(base_url=f"{host}/api/2.0/mlflow", timeout=60)
        experiments = {n: int(api.post("/experiments/create", json={"name": f"runs-{n}"}).json()["experiment_id"])
                       for n in sizes}
    mlflow_seconds = seed_mlflow(db, experiments, sizes)
    made = {"sizes": sizes, "experiments": {str(n): e for n, e in experiments.items()},
            "seed_seconds": {"labbook": labbook_seconds, "mlflow": mlflow_seconds}}
    ready.write_text(json.dumps(made, indent=1))
    return made


# -- figures ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def labbook_ui(home: Path) -> Iterator[str]:
    with bench_dashboard.server(home, bench_dashboard.child_env(home, None)) as base:
        yield base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="10000,100000", help="comma-separated run counts (one project each)")
    parser.add_argument("--repeat", type=int, default=3, help="cold runs per figure and system (median)")
    parser.add_argument("--folder", type=Path, default=ROOT / "build" / "dashboard-mlflow")
    parser.add_argument("--no-install", action="store_true", help="use MLflow only if its environment exists")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "dashboard_mlflow.json")
    args = parser.parse_args()
    from bench_server import mlflow_server
    from peers import peer_python, peer_version
    from report import machine

    sizes = sorted(int(n) for n in args.runs.split(","))
    python = peer_python("mlflow", install=not args.no_install)
    version = peer_version(python, "mlflow")
    info = machine()
    print(f"labbook dashboard vs MLflow {version} UI, {info['date']} | {info['cpus']} CPUs "
          f"| load {info['load_average']} | labbook {info['labbook_commit']}", flush=True)
    began = time.perf_counter()
    made = prepare(args.folder, sizes, python)
    print(f"data ready in {time.perf_counter() - began:.0f} s (seeding, when built now: {made['seed_seconds']})",
          flush=True)
    home = args.folder / ".labbook"
    mlflow_folder = args.folder / "mlflow"
    shots = args.folder / "screenshots"
    shots.mkdir(exist_ok=True)
    results: dict[str, Any] = {"machine": info, "mlflow": version, "sizes": sizes, "repeat": args.repeat,
                               "seed_seconds": made["seed_seconds"], "figures": {}}
    for n in sizes:
        times: dict[str, list[float]] = {"labbook": [], "mlflow": []}
        scripts: dict[str, tuple[int, int]] = {}
        loads = []
        for rep in range(args.repeat):
            shot = rep == args.repeat - 1 and n == max(sizes)
            loads.append(os.getloadavg()[0])
            with labbook_ui(home) as base:
                seconds, count, size = timed(f"{base}/#/projects/runs-{n}", LABBOOK_READY,
                                             shots / "labbook-runs.png" if shot else None)
            times["labbook"].append(seconds)
            scripts["labbook"] = (count, size)
            with mlflow_server(python, f"sqlite:///{mlflow_folder / 'mlflow.db'}", mlflow_folder) as host:
                experiment = made["experiments"][str(n)]
                seconds, count, size = timed(f"{host}/#/experiments/{experiment}/runs", MLFLOW_READY,
                                             shots / "mlflow-runs.png" if shot else None)
            times["mlflow"].append(seconds)
            scripts["mlflow"] = (count, size)
            print(f"  {n:,} runs, repetition {rep + 1}: labbook {times['labbook'][-1]:.2f} s, "
                  f"MLflow {times['mlflow'][-1]:.2f} s (load {loads[-1]:.1f})", flush=True)
        medians = {system: statistics.median(values) for system, values in times.items()}
        results["figures"][str(n)] = {"times_s": times, "median_s": medians, "load": loads,
                                      "scripts": {k: {"count": c, "gzip_bytes": s} for k, (c, s) in scripts.items()}}
        print(f"first painted run row, {n:,} runs x 20 params x 20 metrics, cold, median of {args.repeat}: "
              f"labbook {medians['labbook']:.2f} s, MLflow {medians['mlflow']:.2f} s "
              f"(MLflow / labbook {medians['mlflow'] / medians['labbook']:.1f}x)", flush=True)
        for system, (count, size) in scripts.items():
            print(f"  {system}: {count} scripts loaded until then, {size / 1024:,.1f} KB gzipped", flush=True)
    results["labbook_initial_js_kb"] = round(bench_dashboard.initial_js_kb(), 1)
    print(f"labbook runs page initial JS by the build manifest: {results['labbook_initial_js_kb']} KB gzipped")
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    print(f"load average at the end {results['load_average_end']}; screenshots in {shots}; figures in {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
