"""The dashboard's helper routes on a real server, SQLite and PostgreSQL: name lists (most used
first, searchable, capped), run counts for a filter, and group bands computed on the server."""

from __future__ import annotations

import math

import pytest

from labbook import tokens
from tests.server_helpers import PROJECT, ServerProcess, make_project, run_kwargs
from tests.test_catalog import postgres_url  # noqa: F401 - used by backend
from tests.test_server import backend  # noqa: F401 - a fixture: sqlite, then postgresql

pytestmark = pytest.mark.timeout(240)


def _grouped_runs() -> dict[str, str]:
    """Four runs of project 'bands': opt a (two runs), opt b (one run, with a spike and a NaN),
    and one with no param opt; metric m is 10*i + step over steps 0..9; metric tokens is
    100*step (run g1: at even steps only; run g3: none)."""
    from labbook.tracking import Run

    made = {}
    for i, opt in enumerate(("a", "a", "b", None)):
        with Run(project="bands", name=f"g{i}", **run_kwargs()) as run:
            run.log_inputs(**({"opt": opt} if opt else {}), i=i)
            for step in range(10):
                value = 10.0 * i + step
                if i == 2 and step == 5:
                    value = 1000.0
                if i == 2 and step == 7:
                    value = float("nan")
                run.log_metric("m", value, step=step)
                if i in (0, 2) or (i == 1 and step % 2 == 0):
                    run.log_metric("tokens", 100.0 * step, step=step)
            made[f"g{i}"] = run.uuid
    with Run(project="bands", name="no-metric", **run_kwargs()) as run:
        run.log_inputs(opt="a")
        made["no-metric"] = run.uuid
    return made


def test_names_counts_and_group_bands(home, tmp_path, backend):  # noqa: F811 - the fixture
    make_project(home, tmp_path / "work")
    made = _grouped_runs()
    token, _ = tokens.create_token("test", "read")
    server = ServerProcess(home, **backend)
    try:
        with server.client(token) as api:
            params = api.get("/names", params={"kind": "params", "project": PROJECT}).json()
            assert [(n["name"], n["runs"]) for n in params["names"]] == \
                [("layers", 3), ("lr", 3), ("optimizer", 3)] and not params["truncated"]
            metrics = api.get("/names", params={"kind": "metrics", "project": PROJECT}).json()
            assert {n["name"]: n["runs"] for n in metrics["names"]} == {"accuracy": 3, "loss": 3}
            tags = api.get("/names", params={"kind": "tags", "project": PROJECT}).json()
            assert [(n["name"], n["runs"]) for n in tags["names"]] == [("sweep", 3), ("best", 1)]
            outputs = api.get("/names", params={"kind": "outputs", "project": PROJECT}).json()
            assert [n["name"] for n in outputs["names"]] == ["final_loss"]
            searched = api.get("/names", params={"kind": "params", "project": PROJECT, "q": "OPT"}).json()
            assert [n["name"] for n in searched["names"]] == ["optimizer"]
            capped = api.get("/names", params={"kind": "params", "project": PROJECT, "limit": 2}).json()
            assert len(capped["names"]) == 2 and capped["truncated"]
            everywhere = api.get("/names", params={"kind": "params"}).json()
            assert {n["name"] for n in everywhere["names"]} == {"layers", "lr", "optimizer", "opt", "i"}
            assert api.get("/names", params={"kind": "colours"}).status_code == 422

            assert api.get("/runs/count", params={"project": PROJECT}).json() == {"count": 4}
            assert api.get("/runs/count", params={"project": PROJECT, "filter": "params.lr < 0.05"}).json() == {"count": 2}
            assert api.get("/runs/count", params={"filter": "params.opt = 'a'"}).json() == {"count": 3}
            bad = api.get("/runs/count", params={"project": PROJECT, "filter": "params.lr <"})
            assert bad.status_code in (400, 422) and bad.json()["error"]["field"] == "filter"

            whole = [r["uuid"] for r in api.get("/runs", params={"order_by": "name", "limit": 100}).json()["runs"]]
            window = api.get("/runs/window", params={"order_by": "name", "offset": 2, "limit": 3}).json()
            assert [r["uuid"] for r in window["runs"]] == whole[2:5] and len(whole) == 9
            filtered = api.get("/runs/window", params={"project": "bands", "filter": "params.opt = 'a'",
                                                       "order_by": "-name", "offset": 1}).json()
            assert [r["name"] for r in filtered["runs"]] == ["g1", "g0"]  # after no-metric
            assert api.get("/runs/window", params={"filter": "params.lr <"}).status_code in (400, 422)

            runs = [made[k] for k in ("g0", "g1", "g2", "g3", "no-metric")]
            answer = api.post("/series/groups", json={"runs": runs, "metric": "m", "group_by": "opt"}).json()
            assert answer["raw"] and answer["missing"] == [made["no-metric"]]
            groups = {g["value"]: g for g in answer["groups"]}
            assert list(groups) == ["a", "b", None]
            a, b, none = groups["a"], groups["b"], groups[None]
            assert a["runs"] == [made["g0"], made["g1"]] and a["x"] == [float(s) for s in range(10)]
            assert a["mean"] == [5.0 + s for s in range(10)]  # runs 0 and 1: s and 10 + s
            assert a["min"] == [float(s) for s in range(10)] and a["max"] == [10.0 + s for s in range(10)]
            assert a["runs_in_bucket"] == [2] * 10 and a["non_finite"] == 0
            assert b["max"][5] == 1000.0 and b["mean"][7] is None and b["non_finite"] == 1
            assert none["mean"] == [30.0 + s for s in range(10)]

            bucketed = api.post("/series/groups", json={"runs": runs[:3], "metric": "m", "group_by": "opt",
                                                        "points": 3}).json()
            assert not bucketed["raw"]
            b = {g["value"]: g for g in bucketed["groups"]}["b"]
            assert len(b["x"]) == 3 and max(v for v in b["max"] if v is not None) == 1000.0  # the spike survives
            a = {g["value"]: g for g in bucketed["groups"]}["a"]
            assert math.isclose(a["min"][0], 0.0) and math.isclose(a["max"][-1], 19.0)

            zoomed = api.post("/series/groups", json={"runs": runs[:2], "metric": "m", "group_by": "opt",
                                                      "x_min": 3, "x_max": 4}).json()
            assert zoomed["groups"][0]["x"] == [3.0, 4.0] and zoomed["groups"][0]["mean"] == [8.0, 9.0]
            assert api.post("/series/groups", json={"runs": ["0" * 32], "metric": "m", "group_by": "opt"}).status_code == 404

            # x=metric:tokens: each point sits at its run's tokens at the same step; steps without
            # tokens are left out, and a run without tokens is missing
            by_tokens = api.post("/series/groups", json={"runs": runs, "metric": "m", "group_by": "opt",
                                                         "x": "metric:tokens"}).json()
            assert by_tokens["x_axis"] == "metric:tokens" and by_tokens["raw"]
            assert sorted(by_tokens["missing"]) == sorted([made["g3"], made["no-metric"]])
            a = {g["value"]: g for g in by_tokens["groups"]}["a"]
            assert a["x"] == [100.0 * s for s in range(10)]
            assert a["runs_in_bucket"] == [2 if s % 2 == 0 else 1 for s in range(10)]  # g1 only at even steps
            assert a["mean"] == [5.0 + s if s % 2 == 0 else float(s) for s in range(10)]
            assert [g["value"] for g in by_tokens["groups"]] == ["a", "b"]
            bad_x = api.post("/series/groups", json={"runs": runs, "metric": "m", "group_by": "opt", "x": "tokens"})
            assert bad_x.status_code == 422

        # tags written over the API show in lists and filters at once; an empty list with reset removes them
        writer, _ = tokens.create_token("writer", "write")
        with server.client(writer) as api:
            g0 = made["g0"]
            assert api.post(f"/runs/{g0}/tags", json={"tags": ["keep", "x"], "reset": True}).json()["tags"] == ["keep", "x"]
            listed = api.get("/runs", params={"filter": "'keep' in tags"}).json()["runs"]
            assert [r["uuid"] for r in listed] == [g0] and listed[0]["tags"] == ["keep", "x"]
            assert api.post(f"/runs/{g0}/tags", json={"tags": [], "reset": True}).json()["tags"] == []
            assert api.get("/runs/count", params={"filter": "'keep' in tags"}).json() == {"count": 0}
    finally:
        server.stop()
