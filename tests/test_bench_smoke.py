"""The benchmarks keep working: bench_core.py --smoke runs end to end and prints every figure.

No timing is checked here (speed is the benchmark's business, not a test's): only that each
workload runs, reads back what it logged and reports its figure under its documented label.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import python_env

BENCH = Path(__file__).resolve().parents[1] / "bench"

# The figures of docs/benchmarks.md that do not need MLflow.
LABBOOK_LABELS = [
    "baseline (orjson lines) per call",
    "baseline (orjson lines) until durable",
    "labbook tracking.log_metric per call",
    "labbook tracking.log_metric until durable",
    "labbook run.log_metric per call",
    "labbook run.log_metric until durable",
    "baseline (one orjson line per step) per point",
    "labbook tracking.log_metrics per point",
    "labbook run.log_metrics until durable",
    "parquet: pq.read_table(...) -> to_numpy() x3 columns",
    "labbook get_run(uuid).metric(name).values",
    "labbook: from labbook import tracking (fresh process)",
    "labbook empty run, first in a new home (fresh process)",
    "labbook empty run, warm (tracking.init defaults)",
    "labbook search_runs: list",
    "labbook search_runs: filter",
    "labbook search_runs: order",
]
TARGETS = [
    "tracking.log_metric per call <= 3x baseline",
    "run.log_metric until durable <= 3x baseline",
    "1M-point read <= 2x the Parquet read",
    "import < 1/5 of MLflow's import",
]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "core.json"
    result = subprocess.run(
        [sys.executable, str(BENCH / "bench_core.py"), "--smoke", "--json", str(out)],
        capture_output=True, text=True, timeout=180, cwd=tmp, env=python_env(tmp / ".labbook"),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout, json.loads(out.read_text())


@pytest.mark.parametrize("label", [pytest.param(label, id=label) for label in LABBOOK_LABELS])
def test_smoke_prints_each_figure(smoke_run: tuple[str, dict], label: str) -> None:
    stdout, data = smoke_run
    assert label in stdout
    figure = next(f for f in data["figures"].values() if f["label"] == label)
    assert figure["value"] > 0


@pytest.mark.parametrize("target", [pytest.param(t, id=t) for t in TARGETS])
def test_smoke_checks_each_target(smoke_run: tuple[str, dict], target: str) -> None:
    stdout, data = smoke_run
    line = next(line for line in stdout.splitlines() if target in line)
    assert line.split()[0] in ("PASS", "MISS", "SKIP")
    assert any(t["target"] == target for t in data["targets"])


def test_smoke_leaves_mlflow_out(smoke_run: tuple[str, dict]) -> None:
    stdout, data = smoke_run
    assert data["mlflow"] is None
    assert not any(key.startswith("mlflow") for key in data["figures"])
    assert "SKIP  import < 1/5 of MLflow's import" in stdout


def test_runner_lists_core_first_and_rejects_unknown_names(tmp_path: Path) -> None:
    env = python_env(tmp_path / ".labbook")
    listed = subprocess.run([sys.executable, str(BENCH / "run.py"), "--list"], capture_output=True,
                            text=True, timeout=60, env=env)
    assert listed.returncode == 0
    assert listed.stdout.split()[0] == "core"
    unknown = subprocess.run([sys.executable, str(BENCH / "run.py"), "--only", "no-such-bench"],
                             capture_output=True, text=True, timeout=60, env=env)
    assert unknown.returncode != 0
    assert "no-such-bench" in unknown.stderr and "core" in unknown.stderr


def test_fresh_process_benchmark_measures_every_workload(tmp_path: Path) -> None:
    """bench_fresh.py --smoke: every labbook and baseline figure measured in its own process,
    written to the result file, and every target of issue 14 given a verdict."""
    out = tmp_path / "fresh.json"
    result = subprocess.run(
        [sys.executable, str(BENCH / "bench_fresh.py"), "--smoke", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=python_env(tmp_path / ".labbook"),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    for figure in ("log_metric.call_us", "log_metric.durable_us", "log_metric.peak_mb",
                   "log_metrics.durable_us", "create_runs.ms_per_run", "first_run.s"):
        systems = data["summary"][figure]["systems"]
        assert {"baseline", "labbook", "labbook+capture"} <= set(systems), figure
        assert all(row["median"] > 0 for row in systems.values()), figure
    assert data["summary"]["search.list_ms"]["systems"]["labbook"]["median"] > 0
    assert data["summary"]["search.sql_ms"]["systems"]["labbook"]["median"] > 0
    assert len(data["targets"]) == 10
    assert {t["verdict"] for t in data["targets"]} <= {"PASS", "MISS", "SKIP"}
    table = subprocess.run([sys.executable, str(BENCH / "bench_fresh.py"), "--table", str(out)],
                           capture_output=True, text=True, timeout=60, env=python_env(tmp_path / ".labbook"))
    assert "| Target |" in table.stdout


def test_server_bench_gives_the_figure_process_its_catalog_and_server_source(tmp_path):
    """``bench_server.py --catalog URL --server-src PATH`` measures in a fresh process per figure
    group: that process gets both options (a filled database reused, the server from another
    checkout, for A/B) and imports labbook from PATH, not from this checkout."""
    import argparse
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_server_under_test", BENCH / "bench_server.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    other = tmp_path / "other" / "src"
    args = argparse.Namespace(requests=30, cold=3, runs=100_000, postgres="postgresql://pg/admin", store=None,
                              no_mlflow=True, no_install=False, catalog="postgresql://pg/filled",
                              server_src=str(other))
    command, source = bench.figure_command(args, "catalog", False)
    assert command[command.index("--catalog") + 1] == "postgresql://pg/filled"
    assert command[command.index("--server-src") + 1] == str(other)
    assert source == other.resolve()
    command, source = bench.figure_command(argparse.Namespace(**{**vars(args), "catalog": None,
                                                                 "server_src": None}), "catalog", False)
    assert "--catalog" not in command and "--server-src" not in command
    assert source == BENCH.parent / "src"
