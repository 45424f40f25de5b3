"""The core benchmark: labbook, a bare baseline and MLflow on the same tracking workloads.

Run it with ``.venv/bin/python bench/bench_core.py`` (2-4 minutes on 2 cores; ``--quick``
about 1.5; ``--smoke`` a few seconds, no MLflow, for the test that keeps this script working).
MLflow runs in its own environment, ``~/.cache/labbook-bench/envs/mlflow``, created on first use (peers.py).

Workloads (docs/benchmarks.md explains every figure):

1. 100,000 ``log_metric`` calls on one metric: cost on the caller's thread, and until durable.
2. 10 metrics x 10,000 steps through ``log_metrics`` (MLflow: ``log_batch``).
3. Reading a 1,000,000-point metric into numpy, against the same points in a Parquet file.
4. ``from labbook import tracking`` and an empty run, against ``import mlflow`` and its empty run.
5. 1,000 runs listed, filtered and ordered by a metric with ``search_runs``.

The baseline is what a script without a tracker would do: one orjson line per record appended
to a buffered file. The closing lines check the targets of issue 2 (PASS / MISS).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peers  # noqa: E402  (bench/ is not a package)
from report import Report, machine, markdown, median_of, repeat  # noqa: E402

perf = time.perf_counter
SIZES: dict[str, dict[str, Any]] = {
    "full": {
        "calls": 100_000, "reps": 5, "metrics": 10, "steps": 10_000, "points": 1_000_000,
        "read_reps": 5, "runs": 1_000, "search_reps": 5, "import_reps": 7, "empty_reps": 10,
        "warm_up": True,
        "mlflow": {"calls": 5_000, "sqlite_calls": 200, "metrics": 10, "steps": 10_000,
                   "points": 100_000, "read_reps": 1, "runs": 1_000, "search_reps": 3,
                   "empty_reps": 5, "import_reps": 5, "cold_reps": 3, "warm_up": True},
    },
    "quick": {
        "calls": 100_000, "reps": 3, "metrics": 10, "steps": 10_000, "points": 1_000_000,
        "read_reps": 3, "runs": 200, "search_reps": 3, "import_reps": 5, "empty_reps": 5,
        "warm_up": True,
        "mlflow": {"calls": 1_000, "sqlite_calls": 50, "metrics": 10, "steps": 500,
                   "points": 50_000, "read_reps": 1, "runs": 100, "search_reps": 2,
                   "empty_reps": 3, "import_reps": 5, "cold_reps": 1, "warm_up": False},
    },
    "smoke": {
        "calls": 2_000, "reps": 1, "metrics": 10, "steps": 200, "points": 20_000,
        "read_reps": 1, "runs": 10, "search_reps": 1, "import_reps": 1, "empty_reps": 1,
        "warm_up": False, "mlflow": None,
    },
}
TARGETS = (
    # (label, figure, reference, at most this ratio)
    ("tracking.log_metric per call <= 3x baseline", "lb.module.call_us", "base.call_us", 3.0),
    ("tracking.log_metric until durable <= 3x baseline", "lb.module.durable_us", "base.durable_us", 3.0),
    ("run.log_metric per call <= 3x baseline", "lb.run.call_us", "base.call_us", 3.0),
    ("run.log_metric until durable <= 3x baseline", "lb.run.durable_us", "base.durable_us", 3.0),
    ("1M-point read <= 2x the Parquet read", "lb.read_ms", "parquet.read_ms", 2.0),
    ("import < 1/5 of MLflow's import", "lb.import_ms", "mlflow.import_ms", 0.2),
)


# -- MLflow --------------------------------------------------------------------------------------


class MLflow:
    """MLflow's worker (peer_mlflow.py in MLflow's environment), or nothing when disabled."""

    def __init__(self, sizes: dict[str, Any] | None, report: Report, install: bool) -> None:
        self.sizes = sizes
        self.report = report
        self.python: Path | None = None
        self.version = None
        if sizes is None:
            return
        try:
            self.python = peers.peer_python("mlflow", install=install)
            self.version = peers.peer_version(self.python, "mlflow")
        except peers.PeerUnavailable as error:
            print(f"[mlflow] not measured: {error}", flush=True)

    def run(self, tasks: list[str], **extra: Any) -> dict[str, dict[str, Any]]:
        """Figures from one fresh worker process, keyed by figure name."""
        if self.python is None:
            return {}
        spec = {**self.sizes, **extra, "tasks": tasks}
        results = {}
        for message in peers.run_worker(self.python, HERE / "peer_mlflow.py", spec, timeout=600):
            if "error" in message:
                print(f"    [mlflow] {message['error']} failed: {message['message']}", flush=True)
            else:
                results[message["figure"]] = message
        return results

    def add(self, results: dict[str, dict[str, Any]], figure: str, key: str, label: str,
            unit: str, scale: float = 1.0) -> None:
        message = results.get(figure)
        if message is not None:
            self.report.add(key, label, message["value"] * scale, unit, message.get("n"))


# -- workloads -----------------------------------------------------------------------------------


def new_run(tracking, project: str):
    return tracking.init(project=project, track_env=False, track_code=False, track_logs=False,
                         collect_resources=False)


def bench_log_metric(report: Report, sizes: dict[str, Any], mlflow: MLflow, tmp: Path) -> None:
    import orjson

    from labbook import tracking

    calls = sizes["calls"]
    report.section(f"1. log_metric: {calls:,} calls on one metric (per point)")

    def baseline() -> tuple[float, float]:
        with open(tmp / "baseline.jsonl", "wb") as f:
            dumps, now = orjson.dumps, time.time
            started = perf()
            for step in range(calls):
                f.write(dumps({"step": step, "timestamp": now(), "value": 0.5}) + b"\n")
            called = perf()
            f.flush()
            return called - started, perf() - started

    def labbook(module_api: bool) -> tuple[float, float]:
        run = new_run(tracking, "bench-log")
        log = tracking.log_metric if module_api else run.log_metric
        started = perf()
        for step in range(calls):
            log("loss", 0.5, step=step)
        called = perf()
        run.flush()
        durable = perf() - started
        tracking.end()
        return called - started, durable

    for key, label, measure in (
        ("base", "baseline (orjson lines)", baseline),
        ("lb.module", "labbook tracking.log_metric", lambda: labbook(True)),
        ("lb.run", "labbook run.log_metric", lambda: labbook(False)),
    ):
        results = repeat(sizes["reps"], measure)
        report.add(f"{key}.call_us", f"{label} per call",
                   statistics.median(r[0] for r in results) / calls * 1e6, "us")
        report.add(f"{key}.durable_us", f"{label} until durable",
                   statistics.median(r[1] for r in results) / calls * 1e6, "us")
    found = mlflow.run(["log_metric", "log_metric_async"])
    mlflow.add(found, "mlflow.log_metric.file.call_us", "mlflow.file.call_us",
               "mlflow MlflowClient.log_metric, file store (durable)", "us")
    mlflow.add(found, "mlflow.log_metric.sqlite.call_us", "mlflow.sqlite.call_us",
               "mlflow MlflowClient.log_metric, sqlite store (durable)", "us")
    mlflow.add(found, "mlflow.log_metric_async.file.call_us", "mlflow.async.call_us",
               "mlflow log_metric(synchronous=False) per call", "us")
    mlflow.add(found, "mlflow.log_metric_async.file.durable_us", "mlflow.async.durable_us",
               "mlflow log_metric(synchronous=False) until durable", "us")
    fastest(report, "mlflow.best.call_us", "mlflow fastest mode per call",
            ("mlflow.file.call_us", "mlflow.sqlite.call_us", "mlflow.async.call_us"))
    fastest(report, "mlflow.best.durable_us", "mlflow fastest mode until durable",
            ("mlflow.file.call_us", "mlflow.sqlite.call_us", "mlflow.async.durable_us"))
    for key in ("lb.module.call_us", "lb.run.call_us"):
        report.ratio(key, ("base.call_us", "baseline"), ("mlflow.best.call_us", "mlflow fastest"))
    for key in ("lb.module.durable_us", "lb.run.durable_us"):
        report.ratio(key, ("base.durable_us", "baseline"),
                     ("mlflow.best.durable_us", "mlflow fastest"))


def fastest(report: Report, key: str, label: str, candidates: tuple[str, ...]) -> None:
    values = [report.value(c) for c in candidates if report.value(c) is not None]
    if values:
        report.add(key, label, min(values), "us")


def bench_log_metrics(report: Report, sizes: dict[str, Any], mlflow: MLflow, tmp: Path) -> None:
    import orjson

    from labbook import tracking

    count, steps = sizes["metrics"], sizes["steps"]
    points = count * steps
    names = [f"m{i}" for i in range(count)]
    values = dict.fromkeys(names, 0.5)
    report.section(f"2. log_metrics: {count} metrics x {steps:,} steps (per point)")

    def baseline() -> tuple[float, float]:
        with open(tmp / "baseline-steps.jsonl", "wb") as f:
            dumps, now = orjson.dumps, time.time
            started = perf()
            for step in range(steps):
                f.write(dumps({"step": step, "timestamp": now(), **values}) + b"\n")
            called = perf()
            f.flush()
            return called - started, perf() - started

    def labbook(module_api: bool) -> tuple[float, float]:
        run = new_run(tracking, "bench-log")
        log = tracking.log_metrics if module_api else run.log_metrics
        started = perf()
        for step in range(steps):
            log(step=step, **values)
        called = perf()
        run.flush()
        durable = perf() - started
        tracking.end()
        return called - started, durable

    for key, label, measure in (
        ("base.steps", "baseline (one orjson line per step)", baseline),
        ("lb.module.steps", "labbook tracking.log_metrics", lambda: labbook(True)),
        ("lb.run.steps", "labbook run.log_metrics", lambda: labbook(False)),
    ):
        results = repeat(sizes["reps"], measure)
        report.add(f"{key}.call_us", f"{label} per point",
                   statistics.median(r[0] for r in results) / points * 1e6, "us")
        report.add(f"{key}.durable_us", f"{label} until durable",
                   statistics.median(r[1] for r in results) / points * 1e6, "us")
    found = mlflow.run(["log_batch"])
    mlflow.add(found, "mlflow.log_batch.file.point_us", "mlflow.batch.point_us",
               "mlflow MlflowClient.log_batch per point (durable)", "us")
    mlflow.add(found, "mlflow.log_batch.file.call_us", "mlflow.batch.call_us",
               "mlflow MlflowClient.log_batch per call (10 metrics)", "us")
    for key, ref in (("lb.module.steps.call_us", "base.steps.call_us"),
                     ("lb.run.steps.call_us", "base.steps.call_us"),
                     ("lb.module.steps.durable_us", "base.steps.durable_us"),
                     ("lb.run.steps.durable_us", "base.steps.durable_us")):
        report.ratio(key, (ref, "baseline"), ("mlflow.batch.point_us", "mlflow log_batch"))


def bench_read(report: Report, sizes: dict[str, Any], mlflow: MLflow, tmp: Path) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    import labbook
    from labbook import tracking

    points = sizes["points"]
    report.section(f"3. read a {points:,}-point metric into numpy")
    run = new_run(tracking, "bench-read")
    log = run.log_metric
    for step in range(points):
        log("loss", step * 0.5, step=step)
    tracking.end()
    uuid = run.uuid

    first = perf()
    series = labbook.get_run(uuid).metric("loss")
    report.add("lb.read_first_ms", "labbook get_run(uuid).metric(name), first call", (perf() - first) * 1e3, "ms")
    if len(series.values) != points or series.steps[-1] != points - 1:
        raise SystemExit(f"labbook read {len(series.values)} points, expected {points}")

    table = pa.table({"step": series.steps, "timestamp": series.timestamps, "value": series.values})
    parquet = tmp / "metric.parquet"
    pq.write_table(table, parquet)
    del table, series

    def read_parquet() -> float:
        started = perf()
        table = pq.read_table(parquet)
        columns = [table.column(name).to_numpy() for name in ("step", "timestamp", "value")]
        elapsed = perf() - started
        assert len(columns[2]) == points
        return elapsed

    def read_labbook() -> float:
        started = perf()
        values = labbook.get_run(uuid).metric("loss").values
        elapsed = perf() - started
        assert len(values) == points
        return elapsed

    record = labbook.get_run(uuid)

    def read_metric_only() -> float:
        started = perf()
        values = record.metric("loss").values
        elapsed = perf() - started
        assert len(values) == points and isinstance(values, np.ndarray)
        return elapsed

    read_parquet(), read_labbook()  # warm both paths (page cache, lazy imports) before timing
    reps = sizes["read_reps"]
    report.add("parquet.read_ms", "parquet: pq.read_table(...) -> to_numpy() x3 columns",
               median_of(reps, read_parquet) * 1e3, "ms", points)
    report.add("lb.read_ms", "labbook get_run(uuid).metric(name).values",
               median_of(reps, read_labbook) * 1e3, "ms", points)
    report.add("lb.read_metric_ms", "labbook RunRecord.metric(name) alone",
               median_of(reps, read_metric_only) * 1e3, "ms", points)
    found = mlflow.run(["read"])
    mlflow.add(found, "mlflow.read.file_s", "mlflow.read_ms",
               "mlflow get_metric_history -> numpy (file store)", "ms", 1e3)
    report.ratio("lb.read_ms", ("parquet.read_ms", "parquet"))
    mlflow_points = (found.get("mlflow.read.file_s") or {}).get("n")
    if mlflow_points and report.value("mlflow.read_ms"):
        per_point = report.value("mlflow.read_ms") / mlflow_points
        lb_per_point = report.value("lb.read_ms") / points
        print(f"    -> per point: mlflow {per_point * 1e6:.1f} ns, labbook {lb_per_point * 1e6:.2f} ns "
              f"({per_point / lb_per_point:.0f}x)", flush=True)


IMPORT_CODE = (
    "import time; t = time.perf_counter(); from labbook import tracking; "
    "print(time.perf_counter() - t)"
)
COLD_RUN_CODE = (
    "import time; from labbook import tracking; t = time.perf_counter(); "
    "tracking.init(project='bench-empty'); tracking.end(); print(time.perf_counter() - t)"
)


def fresh_process_seconds(code: str, tmp: Path) -> float:
    home = tempfile.mkdtemp(dir=tmp)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABBOOK_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=home, env={**env, "LABBOOK_HOME": os.path.join(home, ".labbook")})
    if out.returncode != 0:
        raise SystemExit(f"fresh labbook process failed:\n{out.stderr}")
    return float(out.stdout.strip().splitlines()[-1])


def bench_startup(report: Report, sizes: dict[str, Any], mlflow: MLflow, tmp: Path) -> None:
    from labbook import tracking

    report.section("4. import and an empty run")
    reps = sizes["import_reps"]
    if sizes["warm_up"]:
        fresh_process_seconds(COLD_RUN_CODE, tmp)  # writes the bytecode caches; not timed
    report.add("lb.import_ms", "labbook: from labbook import tracking (fresh process)",
               statistics.median(fresh_process_seconds(IMPORT_CODE, tmp) for _ in range(reps)) * 1e3,
               "ms", reps)
    if mlflow.python is not None:
        times = []
        if mlflow.sizes["warm_up"]:
            mlflow.run(["import"])  # the first import after install can be slow once; not timed
        for _ in range(mlflow.sizes["import_reps"]):
            found = mlflow.run(["import"])
            if "mlflow.import_s" in found:
                times.append(found["mlflow.import_s"]["value"])
        if times:
            report.add("mlflow.import_ms", "mlflow: import mlflow (fresh process)",
                       statistics.median(times) * 1e3, "ms", len(times))
    report.add("lb.empty_cold_ms", "labbook empty run, first in a new home (fresh process)",
               statistics.median(fresh_process_seconds(COLD_RUN_CODE, tmp) for _ in range(reps)) * 1e3,
               "ms", reps)

    def empty(**options: Any) -> Callable[[], float]:
        def measure() -> float:
            started = perf()
            tracking.init(project="bench-empty", **options)
            tracking.end()
            return perf() - started
        return measure

    empty()()  # the home and the catalog exist from here on
    report.add("lb.empty_warm_ms", "labbook empty run, warm (tracking.init defaults)",
               median_of(sizes["empty_reps"], empty()) * 1e3, "ms", sizes["empty_reps"])
    report.add("lb.empty_bare_ms", "labbook empty run, warm (code/env/logs capture off)",
               median_of(sizes["empty_reps"], empty(track_code=False, track_env=False,
                                                    track_logs=False, collect_resources=False)) * 1e3,
               "ms", sizes["empty_reps"])
    if mlflow.python is not None:
        for store in ("sqlite", "file"):
            times = []
            if mlflow.sizes["warm_up"]:
                mlflow.run(["empty_run_cold"], store=store)  # as above: not timed
            for _ in range(mlflow.sizes["cold_reps"]):
                found = mlflow.run(["empty_run_cold"], store=store)
                if f"mlflow.empty_run_cold.{store}_s" in found:
                    times.append(found[f"mlflow.empty_run_cold.{store}_s"]["value"])
            if times:
                report.add(f"mlflow.empty_cold.{store}_ms",
                           f"mlflow empty run, first in a new {store} store (fresh process)",
                           statistics.median(times) * 1e3, "ms", len(times))
        found = mlflow.run(["empty_run_warm"])
        for store in ("file", "sqlite"):
            mlflow.add(found, f"mlflow.empty_run_warm.{store}_s", f"mlflow.empty_warm.{store}_ms",
                       f"mlflow empty run, warm ({store} store)", "ms", 1e3)
    report.ratio("lb.import_ms", ("mlflow.import_ms", "mlflow"))
    report.ratio("lb.empty_cold_ms", ("mlflow.empty_cold.sqlite_ms", "mlflow sqlite"),
                 ("mlflow.empty_cold.file_ms", "mlflow file"))
    report.ratio("lb.empty_warm_ms", ("mlflow.empty_warm.sqlite_ms", "mlflow sqlite"),
                 ("mlflow.empty_warm.file_ms", "mlflow file"))


def bench_search(report: Report, sizes: dict[str, Any], mlflow: MLflow, tmp: Path) -> None:
    import labbook
    from labbook.tracking import Run

    runs = sizes["runs"]
    where = "params.lr < 0.01 and metrics.loss < 0.5"
    report.section(f"5. {runs:,} runs: list, filter ({where}), order by -metrics.loss")
    started = perf()
    for index in range(runs):
        params, points = peers.run_data(index)
        with Run(project="bench-search", track_code=False, track_env=False, track_logs=False,
                 collect_resources=False, install_handlers=False) as run:
            run.log_inputs(**params)
            for step, loss, accuracy in points:
                run.log_metrics(step=step, loss=loss, accuracy=accuracy)
    report.add("lb.search.setup_s", "labbook: log the runs (setup, not a target)", perf() - started, "s", runs)
    expected = peers.expected_matches(runs)
    queries = {
        "list": {},
        "filter": {"filter": where},
        "order": {"filter": where, "order_by": ["-metrics.loss"]},
    }
    for name, kwargs in queries.items():
        found: list = []

        def measure() -> float:
            began = perf()
            found[:] = labbook.search_runs("bench-search", limit=None, **kwargs)
            return perf() - began

        seconds = median_of(sizes["search_reps"], measure)
        want = runs if name == "list" else expected
        if len(found) != want:
            raise SystemExit(f"labbook search_runs {name} found {len(found)} runs, expected {want}")
        if name == "order":
            losses = [row.summaries["loss"]["last"] for row in found]
            if losses != sorted(losses, reverse=True):
                raise SystemExit("labbook search_runs did not order by -metrics.loss")
        report.add(f"lb.search.{name}_ms", f"labbook search_runs: {name}", seconds * 1e3, "ms", len(found))
    if mlflow.python is not None:
        found_ml = mlflow.run(["search"])
        mlflow.add(found_ml, "mlflow.search.setup_s", "mlflow.search.setup_s",
                   "mlflow: log the runs, sqlite store (setup, not a target)", "s")
        for name in queries:
            mlflow.add(found_ml, f"mlflow.search.{name}_s", f"mlflow.search.{name}_ms",
                       f"mlflow.search_runs: {name} (sqlite store)", "ms", 1e3)
            got = (found_ml.get(f"mlflow.search.{name}_s") or {}).get("n")
            want = mlflow.sizes["runs"] if name == "list" else peers.expected_matches(mlflow.sizes["runs"])
            if got is not None and got != want:
                print(f"    [mlflow] search {name} found {got} runs, expected {want}", flush=True)
        if mlflow.sizes["runs"] != runs:
            print(f"    (mlflow searched {mlflow.sizes['runs']:,} runs, labbook {runs:,})", flush=True)
    for name in queries:
        report.ratio(f"lb.search.{name}_ms", (f"mlflow.search.{name}_ms", "mlflow"))


# -- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smaller sizes (about 1.5 minutes)")
    mode.add_argument("--smoke", action="store_true", help="tiny sizes, no MLflow (seconds; for tests)")
    parser.add_argument("--no-mlflow", action="store_true", help="skip MLflow")
    parser.add_argument("--no-install", action="store_true",
                        help="use MLflow's environment only if it is already installed")
    parser.add_argument("--json", type=Path, help="also write the figures here "
                        "(default: bench/results/core.json, except with --smoke)")
    parser.add_argument("--table", type=Path, metavar="JSON",
                        help="print the figures saved in JSON as a Markdown table, and exit")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown(args.table))
        return 0
    mode_name = "smoke" if args.smoke else "quick" if args.quick else "full"
    sizes = SIZES[mode_name]

    started = perf()
    info = machine()
    print(f"labbook core benchmark ({mode_name}) {info['date']} | {info['cpus']} CPUs {info['cpu']} | "
          f"load {info['load_average']} | Python {info['python']} | labbook {info['labbook_commit']}",
          flush=True)
    report = Report()
    mlflow = MLflow(None if args.no_mlflow else sizes["mlflow"], report, install=not args.no_install)
    if mlflow.version:
        print(f"mlflow {mlflow.version} in {mlflow.python}", flush=True)
    with tempfile.TemporaryDirectory(prefix="labbook-bench-") as tmp_name:
        tmp = Path(tmp_name)
        for key in [k for k in os.environ if k.startswith("LABBOOK_")]:
            del os.environ[key]
        os.environ["LABBOOK_HOME"] = str(tmp / "home")
        # Fresh processes import from bytecode caches, as after `pip install`: with
        # PYTHONDONTWRITEBYTECODE set (some CI images set it), every one would compile labbook's
        # sources while MLflow's site-packages ships compiled.
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        for workload in (bench_log_metric, bench_log_metrics, bench_read, bench_startup, bench_search):
            began = perf()
            workload(report, sizes, mlflow, tmp)
            print(f"  ({perf() - began:.1f} s)", flush=True)

    print("\n== targets (issue 2) ==")
    for target in TARGETS:
        report.check(*target)
    print(f"\ntotal {perf() - started:.0f} s", flush=True)
    out = args.json or (None if args.smoke else HERE / "results" / "core.json")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"mode": mode_name, "machine": info, "mlflow": mlflow.version,
                                   "figures": report.figures, "targets": report.targets}, indent=1))
        print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
