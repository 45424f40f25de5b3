"""Downsampling keeps every spike; a zoom with few points is raw; schemathesis finds no 5xx;
and the library functions the server added: keyset pages, projects, file paths, attached runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import labbook
from labbook import tokens
from labbook.server.downsample import downsample
from tests.server_helpers import ServerProcess, make_project, run_kwargs

pytestmark = pytest.mark.timeout(300)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(3, 5000), points=st.integers(2, 400), spike_at=st.floats(0, 1), spike=st.floats(1e3, 1e9),
       negative=st.booleans())
def test_any_one_point_spike_survives_downsampling(n, points, spike_at, spike, negative):
    y = np.sin(np.arange(n) / 7.0)
    index = min(int(spike_at * n), n - 1)
    y[index] = -spike if negative else spike
    result = downsample(np.arange(n), y, points)
    if result.raw:
        assert n <= points and result.y[index] == y[index]
        return
    assert len(result.count) <= points and sum(result.count) == n
    assert (min(result.min) if negative else max(result.max)) == y[index]
    for x_first, x_last, count in zip(result.x, result.x_last, result.count):
        assert x_last - x_first == count - 1  # consecutive steps: buckets are contiguous, none lost


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 3000), points=st.integers(2, 300), gaps=st.integers(0, 3), offset=st.integers(-10**6, 10**6),
       x_min=st.one_of(st.none(), st.floats(-2e6, 2e6)), x_max=st.one_of(st.none(), st.floats(-2e6, 2e6)),
       big=st.booleans(), tiled=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_integer_steps_bucket_as_their_float_values(n, points, gaps, offset, x_min, x_max, big, tiled, seed):
    """Steps are searched as integers (no float copy of a million steps); the answer is the one their
    float values give: repeated steps, gaps, fractional bounds, steps beyond 2**53, tiles or not."""
    from labbook.server.downsample import Tiles

    rng = np.random.default_rng(seed)
    steps = np.cumsum(rng.integers(0, gaps + 1, n)) + offset + (2**60 if big else 0)
    y = rng.normal(size=n)
    y[rng.integers(0, n)] = 1e9
    tiles = Tiles.of(y, 64) if tiled else None
    as_ints = downsample(steps, y, points, x_min, x_max, tiles=tiles, x_sorted=True)
    as_floats = downsample(steps.astype(np.float64), y, points, x_min, x_max, tiles=tiles)
    assert as_ints == as_floats


def test_a_zoom_with_few_points_is_served_raw():
    x = np.arange(1_000_000)
    y = np.zeros(len(x))
    zoom = downsample(x, y, 2000, x_min=500_000, x_max=501_000)
    assert zoom.raw and zoom.total == 1001 and zoom.x[0] == 500_000 and zoom.x[-1] == 501_000
    wide = downsample(x, y, 2000, x_min=0, x_max=600_000)
    assert not wide.raw and wide.total == 600_001 and len(wide.count) == 2000


def test_nan_and_infinity_become_null_and_do_not_hide_a_bucket():
    y = np.array([1.0, np.nan, 3.0, np.inf, 5.0, 6.0])
    result = downsample(np.arange(6), y, 2)
    assert result.max == [3.0, None] and result.min == [1.0, 5.0]
    raw = downsample(np.arange(6), y, 10)
    assert raw.y == [1.0, None, 3.0, None, 5.0, 6.0]


def test_another_metric_as_x_pairs_points_by_step():
    from labbook.server.views import align_by_step

    # lr logged at steps 0, 2, 4 (twice at 4: the last counts) and NaN at 6; loss at every step 0..7
    x, y = align_by_step(np.arange(8), np.arange(8) * 10.0, [4, 0, 2, 4, 6], [0.3, 0.1, 0.2, 0.4, np.nan])
    assert x.tolist() == [0.1, 0.2, 0.4] and y.tolist() == [0.0, 20.0, 40.0]


def test_a_metric_x_axis_over_http(home):
    from labbook.tracking import Run

    with Run(project="xaxis", **run_kwargs()) as run:
        for step in range(10):
            run.log_metric("loss", 100.0 - step, step=step)
            if step % 3 == 0:
                run.log_metric("epoch", step / 3, step=step)
    token, _ = tokens.create_token("test", "read")
    server = ServerProcess(home)
    try:
        with server.client(token) as api:
            series = api.get(f"/runs/{run.uuid}/metrics/series", params={"name": "loss", "x": "metric:epoch"}).json()
            assert series["x_axis"] == "metric:epoch" and series["raw"] is True
            assert series["x"] == [0.0, 1.0, 2.0, 3.0] and series["y"] == [100.0, 97.0, 94.0, 91.0]
            both = api.post("/series/query", json={"runs": [run.uuid], "metrics": ["loss"], "x": "metric:epoch"}).json()
            assert both["series"][0]["x"] == series["x"]
            missing = api.get(f"/runs/{run.uuid}/metrics/series", params={"name": "loss", "x": "metric:nope"})
            assert missing.status_code == 404 and "nope" in missing.text
            assert api.get(f"/runs/{run.uuid}/metrics/series", params={"name": "loss", "x": "epochs"}).status_code == 422
    finally:
        server.stop()


def test_a_million_point_series_keeps_its_spike_over_http(home):
    from labbook.tracking import Run

    with Run(project="big", **run_kwargs()) as run:
        for step in range(1_000_000):
            run.log_metric("loss", 1.0 if step != 654_321 else 1e6, step=step)
    token, _ = tokens.create_token("test", "read")
    server = ServerProcess(home)
    try:
        with server.client(token) as api:
            series = api.get(f"/runs/{run.uuid}/metrics/series", params={"name": "loss", "points": 2000}).json()
            assert series["raw"] is False and series["total"] == 1_000_000
            assert len(series["count"]) == 2000 and sum(series["count"]) == 1_000_000
            assert max(series["max"]) == 1e6
            bucket = series["max"].index(1e6)
            assert series["x"][bucket] <= 654_321 <= series["x_last"][bucket]
            zoom = api.get(f"/runs/{run.uuid}/metrics/series",
                           params={"name": "loss", "points": 2000, "x_min": 654_000, "x_max": 655_000}).json()
            assert zoom["raw"] is True and len(zoom["x"]) == 1001 and max(zoom["y"]) == 1e6
            wall = api.get(f"/runs/{run.uuid}/metrics/series",
                           params={"name": "loss", "points": 100, "x": "relative"}).json()
            assert wall["x"][0] == 0 and max(wall["max"]) == 1e6
    finally:
        server.stop()


def test_schemathesis_finds_no_server_error(home, tmp_path):
    """Every operation fuzzed (examples, boundary values, random data), with the path and query
    parameters steered onto runs, names and URIs the server holds (tests/schemathesis_hooks.py),
    so the requests get past the 404s into the code that reads and writes."""
    made = make_project(home, tmp_path / "work")
    token, _ = tokens.create_token("fuzz", "admin")
    server = ServerProcess(home)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent), "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
           "LABBOOK_FUZZ_RUNS": ",".join([*made["runs"], made["model_run"]]),
           "LABBOOK_FUZZ_URIS": ",".join([made["data_uri"], made["model_uri"]])}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/api/v1/openapi.json",
             "--checks", "not_a_server_error", "--max-examples", "6", "--seed", "3",
             "--phases", "examples,coverage,fuzzing", "-H", f"Authorization: Bearer {token}", "--no-color"],
            capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:] + server.output()
        tested = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
        assert tested and int(tested.group(2)) >= 1000, done.stdout[-3000:]  # every operation, many cases
        assert labbook.get_run(made["runs"][0]).project == "churn"
    finally:
        server.stop()


# -- the library functions the server builds on ----------------------------------------------------


def test_search_runs_pages_with_after(run_factory):
    made = []
    for index in range(9):
        run = run_factory(project="keys")
        run.log_inputs(group=index % 3, name=("b", "a", None)[index % 3])
        run.end()
        made.append(run.uuid)
    for order in (["-params.group"], ["params.name", "-created_at"], None, ["status"]):
        full = [r.uuid for r in labbook.search_runs("keys", order_by=order)]
        paged, after = [], None
        while True:
            page = labbook.search_runs("keys", order_by=order, limit=2, after=after)
            paged += [r.uuid for r in page]
            if len(page) < 2:
                break
            after = page[-1].sort_key
        assert paged == full and sorted(full) == sorted(made)


def test_list_projects_counts_runs(run_factory):
    for project in ("p1", "p1", "p2"):
        run_factory(project=project).end()
    summary = {p.name: p for p in labbook.list_projects()}
    assert summary["p1"].run_count == 2 and summary["p2"].run_count == 1
    assert summary["p1"].last_activity is not None


def test_file_path_stays_inside_the_run(run_factory, tmp_path):
    from labbook.errors import NotFoundError, PathEscapeError

    run = run_factory(project="files")
    run.end()
    record = labbook.get_run(run.uuid)
    assert record.file_path("run.json") == run.path / "run.json"
    for bad in ("../x", "/etc/passwd", "a\x00b", "x" * 256, "outputs/" + "é" * 128):
        with pytest.raises(PathEscapeError):
            record.file_path(bad)
    with pytest.raises(NotFoundError):
        record.file_path("outputs/missing.txt")


def test_an_attached_run_leaves_the_status_alone(run_factory):
    run = run_factory(project="attach")
    run.end()
    attached = run_factory(project="attach", run_uuid=run.uuid, attach=True)
    attached.log_metric("late", 1.0, step=1)
    attached.end()
    again = labbook.get_run(run.uuid)
    assert again.status == "succeeded"
    assert [c["status"] for c in again.status_conditions] == ["running", "succeeded"]
    assert list(again.metric("late").values) == [1.0]
