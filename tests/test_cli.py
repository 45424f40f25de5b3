"""The labbook command line, run through click's runner and as a real subprocess."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from labbook.cli.main import cli
from labbook.tracking.run import Run
from tests.conftest import PYTHON, python_env


@pytest.fixture
def logged(home):
    runs = []
    for index, lr in enumerate((0.1, 0.01, 0.001)):
        run = Run(project="cli", name=f"run-{index}", install_handlers=False, track_env=False,
                  track_code=False)
        run.log_inputs(lr=lr, opt="adam")
        for step in range(5):
            run.log_metric("train/loss", (step + 1) * lr, step=step)
        run.log_text("note", "hello", step=1)
        run.end()
        runs.append(run)
    return runs


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def test_runs_ls_json_filter_sort(logged):
    result = invoke("runs", "ls", "-p", "cli", "-f", "params.lr < 0.05", "-s", "-params.lr", "--json")
    assert result.exit_code == 0, result.output
    rows = orjson.loads(result.output)
    assert [r["name"] for r in rows] == ["run-1", "run-2"]
    assert rows[0]["metrics"]["train/loss"]["last"] == pytest.approx(0.05)
    assert rows[0]["inputs"] == {"lr": 0.01, "opt": "adam"}


def test_runs_ls_table_with_columns(logged):
    result = invoke("runs", "ls", "-c", "params.lr,metrics.`train/loss`.max", "-s", "params.lr")
    assert result.exit_code == 0
    lines = [line for line in result.output.splitlines() if "run-" in line]
    assert [line.split("│")[3].strip() for line in lines] == ["run-2", "run-1", "run-0"]
    assert "0.5" in lines[2]  # max of run-0's loss: 5 * 0.1


def test_runs_show_and_prefix(logged):
    run = logged[0]
    result = invoke("runs", "show", run.uuid[:8])
    assert result.exit_code == 0
    assert "run-0" in result.output and "train/loss" in result.output and "note" in result.output
    data = orjson.loads(invoke("runs", "show", run.uuid, "--json").output)
    assert data["uuid"] == run.uuid and data["status"] == "succeeded"


def test_metrics_csv_and_json(logged):
    run = logged[1]
    out = invoke("metrics", run.uuid, "train/loss", "--format", "csv").output
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["step"]) for r in rows] == [0, 1, 2, 3, 4]
    assert [float(r["value"]) for r in rows] == [pytest.approx((s + 1) * 0.01) for s in range(5)]
    assert rows[0]["timestamp"].endswith("+00:00")
    data = orjson.loads(invoke("metrics", run.uuid, "train/loss", "--format", "json", "--last", "2").output)
    assert data["steps"] == [3, 4]


def test_errors_are_one_line_with_exit_code_1(logged):
    result = CliRunner().invoke(cli, ["metrics", logged[0].uuid, "nope"])
    assert result.exit_code == 1
    assert "has no metric 'nope'" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["runs", "ls", "-f", "params.lr <"])
    assert result.exit_code == 1 and "ends too early" in result.output
    result = CliRunner().invoke(cli, ["runs", "show", "ffffffffffffffffffffffffffffffff"])
    assert result.exit_code == 1 and "No run" in result.output


def test_index_rebuild(logged, home):
    # A listing brings the catalog up to date (the runs' last rows are the indexer's, off end()).
    assert len(orjson.loads(invoke("runs", "ls", "--json").output)) == 3
    (home / "catalog.db").unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{home / 'catalog.db'}{suffix}").unlink(missing_ok=True)
    result = invoke("index", "--rebuild")
    assert "3 run folders, 3 indexed" in result.output
    rows = orjson.loads(invoke("runs", "ls", "--json").output)
    assert sorted(r["name"] for r in rows) == ["run-0", "run-1", "run-2"]


def test_demo_and_console_script(home, tmp_path):
    result = subprocess.run([PYTHON, "-m", "labbook.cli.main", "demo", "--runs", "2"],
                            env=python_env(home), capture_output=True, text=True, timeout=180,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "4 runs logged" in result.stdout and "val/accuracy" in result.stdout
    assert "Where the evaluation report comes from" in result.stdout
    rows = orjson.loads(subprocess.run(
        [PYTHON, "-m", "labbook.cli.main", "runs", "ls", "-p", "churn-demo", "--json"],
        env=python_env(home), capture_output=True, text=True, timeout=60).stdout)
    assert len(rows) == 4 and all(r["status"] == "succeeded" for r in rows)
    sweep = [r for r in rows if r["name"].startswith("logreg")]
    assert len(sweep) == 2 and all(r["metrics"]["val/accuracy"]["count"] == 12 for r in sweep)
    import labbook

    evaluation = next(r for r in rows if r["name"] == "evaluate-best")
    record = labbook.get_run(evaluation["uuid"], home=home)
    kinds = set(record.event_kinds())
    assert {"metric", "curve", "confusion", "dataframe", "span", "chart"} <= kinds
    sweep_kinds = set(labbook.get_run(sweep[0]["uuid"], home=home).event_kinds())
    assert {"image", "audio", "video", "histogram", "html", "text", "chart"} <= sweep_kinds
    lineage = labbook.get_lineage("store://artifacts/churn-demo/evaluation-report", direction="up",
                                  home=home)
    keys = {node.data.get("key") for node in lineage.nodes.values() if node.type == "artifact"}
    assert {"churn-raw", "churn-train", "churn-val", "churn-logreg", "evaluation-report"} <= keys


def test_db_upgrade_and_revision(home):
    from labbook.catalog.schema import HEAD_REVISION

    assert f"revision {HEAD_REVISION}" in invoke("db", "upgrade").output
    assert invoke("db", "revision").output.strip() == HEAD_REVISION


MARKUP = ["[/]", "[bold red]x[/bold red]", ":thumbs_up: [link=http://x]y[/link]"]


def test_user_text_is_printed_as_written(home):
    """Names, params, metric and artifact names with rich markup, emoji codes or control
    characters print literally in every command: nothing is interpreted, nothing crashes."""
    run = Run(project="markup", name=MARKUP[0], description=MARKUP[1], tags=["[/]"], install_handlers=False,
              track_env=False, track_code=False, track_logs=False, collect_resources=False)
    run.log_inputs(**{"[b]key[/b]": MARKUP[1]})
    run.log_metric(MARKUP[1], 1.0, step=0)
    run.log_text(MARKUP[2], "t", step=0)
    run.end()
    other = Run(project="markup", name=MARKUP[1], install_handlers=False, track_env=False, track_code=False,
                track_logs=False, collect_resources=False)
    other.log_artifact(_file(home, "a.txt"), name="data", kind="file", labels={"[red]l[/red]": "[/]"},
                       description="[red]d[/red]")
    other.end()
    listing = invoke("runs", "ls", "-p", "markup")
    assert listing.exit_code == 0, listing.output
    assert "[/]" in listing.output and "[bold red]x[/bold red]" in listing.output
    shown = invoke("runs", "show", run.uuid)
    assert shown.exit_code == 0, shown.output
    for text in ("[/]", "[bold red]x[/bold red]", "[b]key[/b]", ":thumbs_up: [link=http://x]y[/link]"):
        assert text in shown.output, text
    metric = invoke("metrics", run.uuid, MARKUP[1])
    assert metric.exit_code == 0 and "[bold red]x[/bold red] (1 points)" in metric.output
    artifacts = invoke("artifacts", "ls", "markup")
    assert artifacts.exit_code == 0 and "[red]l[/red]=[/]" in artifacts.output
    version = invoke("artifacts", "show", "store://artifacts/markup/data")
    assert version.exit_code == 0 and "[red]d[/red]" in version.output
    lineage = invoke("lineage", other.uuid)
    assert lineage.exit_code == 0 and "[bold red]x[/bold red]" in lineage.output
    escaped = Run(project="ctl", description="bell\x07", install_handlers=False, track_env=False,
                  track_code=False, track_logs=False, collect_resources=False)
    escaped.log_inputs(colour="\x1b[31mred")
    escaped.end()
    output = invoke("runs", "show", escaped.uuid).output
    assert "\x1b" not in output and "\\x1b[31mred" in output
    assert "\x07" not in output and "bell\\x07" in output


def _file(home: Path, name: str) -> Path:
    path = home.parent / name
    path.write_text("data")
    return path


@pytest.mark.parametrize("args, needle", [
    pytest.param(["artifacts", "ls", "p", "--since", "notadate"], "'notadate' is not an ISO 8601", id="since"),
    pytest.param(["artifacts", "ls", "p", "--until", "2024-13-01"], "not an ISO 8601", id="until"),
    pytest.param(["artifacts", "ls", "p", "--limit", "-1"], "--limit", id="artifact-limit"),
    pytest.param(["artifacts", "ls", "p", "--offset", "x"], "--offset", id="artifact-offset"),
    pytest.param(["runs", "ls", "--limit", "0"], "--limit", id="runs-limit"),
    pytest.param(["runs", "ls", "--offset", "-3"], "--offset", id="runs-offset"),
    pytest.param(["metrics", "r", "m", "--last", "-2"], "--last", id="metrics-last"),
    pytest.param(["metrics", "r", "m", "--rank", "one"], "--rank", id="metrics-rank"),
    pytest.param(["lineage", "r", "--depth", "-1"], "--depth", id="lineage-depth"),
    pytest.param(["logs", "r", "--tail", "-5"], "--tail", id="logs-tail"),
    pytest.param(["logs", "r", "--rank", "x"], "--rank", id="logs-rank"),
])
def test_bad_option_values_are_usage_errors(args, needle):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_since_and_until_filter_by_time(home):
    run = Run(project="times", install_handlers=False, track_env=False, track_code=False, track_logs=False,
              collect_resources=False)
    run.log_artifact(_file(home, "b.txt"), name="b", kind="file")
    run.end()
    assert "b" in invoke("artifacts", "ls", "times", "--since", "2000-01-01", "--json").output
    assert invoke("artifacts", "ls", "times", "--since", "2999-01-01T00:00Z", "--json").output.strip() == "[]"
    assert invoke("artifacts", "ls", "times", "--until", "2000-01-01", "--json").output.strip() == "[]"


def test_metrics_last_zero_shows_no_points(logged):
    data = orjson.loads(invoke("metrics", logged[0].uuid, "train/loss", "--format", "json", "--last", "0").output)
    assert data["steps"] == []
