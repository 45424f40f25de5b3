"""``labbook server`` as a real process: what the REST API returns equals the Python read API,
on SQLite and on PostgreSQL; runs written over HTTP are ordinary runs; the catalog check."""

from __future__ import annotations

import subprocess
import uuid as uuid_module

import numpy as np
import pytest

import labbook
from labbook import tokens
from tests.conftest import PYTHON, python_env
from tests.server_helpers import PROJECT, ServerProcess, make_project
from tests.test_catalog import postgres_url  # noqa: F401 - a fixture: a fresh PostgreSQL database

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, home, monkeypatch):
    env = {}
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        monkeypatch.setenv("LABBOOK_CATALOG_URL", url)
        env["LABBOOK_CATALOG_URL"] = url
    return env


def _same_floats(a, b) -> bool:
    return np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True)


def test_the_api_reads_back_what_the_python_api_reads(home, tmp_path, backend):
    made = make_project(home, tmp_path / "work")
    token, _ = tokens.create_token("test", "read")
    server = ServerProcess(home, **backend)
    try:
        with server.client(token) as api:
            projects = {p["name"]: p for p in api.get("/projects").json()["projects"]}
            expected = {p.name: p for p in labbook.list_projects()}
            assert set(projects) == set(expected) == {PROJECT}
            assert projects[PROJECT]["run_count"] == expected[PROJECT].run_count == 4

            page = api.get("/runs", params={"project": PROJECT, "order_by": "metrics.loss.min",
                                            "columns": "params.lr,metrics.loss.min"}).json()
            rows = labbook.search_runs(PROJECT, order_by=["metrics.loss.min"])
            assert [r["uuid"] for r in page["runs"]] == [r.uuid for r in rows]
            assert [r["columns"]["params.lr"] for r in page["runs"]] == [r.inputs.get("lr") for r in rows]
            assert [r["columns"]["metrics.loss.min"] for r in page["runs"]] == \
                [(r.summaries.get("loss") or {}).get("min") for r in rows]
            slim = api.get("/runs", params={"project": PROJECT, "order_by": "metrics.loss.min", "only_columns": "true",
                                            "columns": "name,tags,params.lr,metrics.loss.min"}).json()
            assert [r["inputs"] for r in slim["runs"]] == [{"lr": r.inputs["lr"]} if "lr" in r.inputs else {}
                                                           for r in rows]
            assert [set(r["metrics"]) for r in slim["runs"]] == [set(r.summaries) & {"loss"} for r in rows]
            assert all(r["outputs"] == {} and r["tags"] is not None for r in slim["runs"])
            bad = api.get("/runs", params={"project": PROJECT, "only_columns": "true", "columns": "nope"})
            assert bad.status_code == 422 and "nope" in bad.text

            filtered = api.get("/runs", params={"project": PROJECT,
                                                "filter": "params.lr < 0.05 and ('best' in tags or not params.layers = 4)"}).json()
            expected_rows = labbook.search_runs(
                PROJECT, filter="params.lr < 0.05 and ('best' in tags or not params.layers = 4)")
            assert {r["uuid"] for r in filtered["runs"]} == {r.uuid for r in expected_rows} != set()

            for uuid in made["runs"]:
                run = labbook.get_run(uuid)
                detail = api.get(f"/runs/{uuid}").json()
                assert detail["inputs"] == run.inputs and detail["outputs"] == run.outputs
                assert detail["tags"] == run.tags and detail["status"] == run.status == "succeeded"
                assert [c["status"] for c in detail["status_conditions"]] == \
                    [c["status"] for c in run.status_conditions]
                assert detail["events"]["metric"] == run.metric_names()

                series = api.get(f"/runs/{uuid}/metrics/series", params={"name": "loss"}).json()
                loss = run.metric("loss")
                assert series["raw"] is True and series["total"] == len(loss)
                assert _same_floats(series["x"], loss.steps) and _same_floats(series["y"], loss.values)

                text = api.get(f"/runs/{uuid}/events", params={"kind": "text", "name": "note"}).json()
                assert [e["value"] for e in text["events"]] == [e.value for e in run.events("text", "note")]

                steps = api.get(f"/runs/{uuid}/events/steps", params={"kind": "image", "name": "sample"}).json()
                images = run.events("image", "sample")
                assert steps["steps"] == [e.step for e in images] == [5, 10]
                at_seven = api.get(f"/runs/{uuid}/events",
                                   params={"kind": "image", "name": "sample", "step": 7}).json()
                assert at_seven["exact"] is False and [e["step"] for e in at_seven["events"]] == [5]
                exact = api.get(f"/runs/{uuid}/events", params={"kind": "image", "name": "sample", "step": 7,
                                                                 "mode": "exact"}).json()
                assert exact["exact"] is False and exact["events"] == []
                before = api.get(f"/runs/{uuid}/events", params={"kind": "image", "name": "sample", "step": 4}).json()
                assert before["events"] == []  # nothing at or before step 4
                at_ten = api.get(f"/runs/{uuid}/events",
                                 params={"kind": "image", "name": "sample", "step": 10, "mode": "exact"}).json()
                assert at_ten["exact"] is True and [e["step"] for e in at_ten["events"]] == [10]
                wall = api.get(f"/runs/{uuid}/metrics/series", params={"name": "loss", "x": "wall"}).json()
                assert wall["x_axis"] == "wall" and len(wall["x"]) == len(loss.values)
                assert all(1.7e9 < a <= b for a, b in zip(wall["x"], wall["x"][1:])), wall["x"][:3]
                picture = api.get(f"/runs/{uuid}/files/{at_seven['events'][0]['file']}")
                assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
                assert picture.content == images[0].path.read_bytes()

            many = api.post("/series/query", json={"runs": made["runs"], "metrics": ["loss", "nope"],
                                                   "points": 5}).json()
            assert len(many["series"]) == 3 and len(many["missing"]) == 3
            unknown = "0" * 32
            with_unknown = api.post("/series/query", json={"runs": [*made["runs"], unknown], "metrics": ["loss", "nope"],
                                                           "points": 5}).json()
            assert with_unknown["series"] == many["series"]
            assert with_unknown["missing"] == [*many["missing"], {"run": unknown, "name": "loss"},
                                               {"run": unknown, "name": "nope"}]
            for item in many["series"]:
                values = labbook.get_run(item["run"]).metric("loss").values
                assert item["raw"] is False and sum(item["count"]) == len(values)
                assert min(item["min"]) == pytest.approx(values.min())
                assert max(item["max"]) == pytest.approx(values.max())

            listed = api.get("/artifacts", params={"project": PROJECT}).json()["artifacts"]
            assert [a["uri"] for a in listed] == [v.uri for v in labbook.list_artifacts(PROJECT)]
            versions = api.get("/artifacts/versions", params={"uri": made["data_uri"]}).json()["artifacts"]
            assert [v["version"] for v in versions] == [2, 1]
            model = api.get("/artifacts/version", params={"uri": made["model_uri"]}).json()
            assert model["stored_in_server"] is True and model["kind"] == "model"
            download = api.get("/artifacts/download", params={"uri": made["model_uri"]})
            assert download.content == labbook.get_artifact(made["model_uri"]).read_bytes()
            assert download.headers["content-disposition"].startswith("attachment")

            graph = api.get("/lineage", params={"uri": made["model_uri"], "direction": "up", "depth": 3}).json()
            expected_graph = labbook.get_lineage(made["model_uri"], direction="up", depth=3).to_dict()
            assert {n["id"] for n in graph["nodes"]} == {n["id"] for n in expected_graph["nodes"]}
            assert {(e["source"], e["target"]) for e in graph["edges"]} == \
                {(e["source"], e["target"]) for e in expected_graph["edges"]}
            assert f"run:{made['model_run']}" in {n["id"] for n in graph["nodes"]}
            by_run = api.get("/lineage", params={"run": made["model_run"]}).json()
            refs = {n["label"] for n in by_run["nodes"] if n["type"] == "ref"}
            assert {"/etc/passwd", "http://169.254.169.254/latest/meta-data"} <= refs
    finally:
        server.stop()


def test_runs_page_with_keyset_cursors_and_a_hard_cap(home, tmp_path):
    from labbook.tracking import Run
    from tests.server_helpers import run_kwargs

    made = []
    for index in range(7):
        with Run(project="paging", **run_kwargs()) as run:
            run.log_inputs(rank=index % 3)
            made.append(run.uuid)
    token, _ = tokens.create_token("test", "read")
    server = ServerProcess(home)
    try:
        with server.client(token) as api:
            seen, cursor = [], None
            while True:
                params = {"project": "paging", "order_by": "-params.rank", "limit": 2}
                if cursor:
                    params["cursor"] = cursor
                page = api.get("/runs", params=params).json()
                seen += [r["uuid"] for r in page["runs"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            assert seen == [r.uuid for r in labbook.search_runs("paging", order_by=["-params.rank"])]
            assert sorted(seen) == sorted(made)
            too_many = api.get("/runs", params={"limit": 1001})
            assert too_many.status_code == 422 and too_many.json()["error"]["field"] == "limit"
    finally:
        server.stop()


def test_the_curl_guide_tracks_a_run_over_http(home, tmp_path):
    """The exact requests docs/server.md shows with curl, in order."""
    write, _ = tokens.create_token("ci", "write", project="demo")
    server = ServerProcess(home)
    run_id = str(uuid_module.uuid4())
    try:
        with server.client(write) as api:
            created = api.put(f"/runs/{run_id}", json={"project": "demo", "name": "from-curl",
                                                       "tags": ["curl"], "inputs": {"lr": 0.01}})
            assert created.status_code == 201, created.text
            again = api.put(f"/runs/{run_id}", json={"project": "demo", "name": "from-curl"})
            assert again.status_code == 200 and again.json()["uuid"] == created.json()["uuid"]
            assert api.post(f"/runs/{run_id}/metrics", json={"points": [
                {"name": "loss", "value": 0.9, "step": 0}, {"name": "loss", "value": 0.5, "step": 1},
                {"name": "accuracy", "value": 0.7, "step": 1}]}).json()["written"] == 3
            assert api.post(f"/runs/{run_id}/events", json={"events": [
                {"kind": "text", "name": "note", "value": "hello", "step": 1}]}).status_code == 200
            assert api.post(f"/runs/{run_id}/outputs", json={"values": {"accuracy": 0.7}}).status_code == 200
            upload = api.post(f"/runs/{run_id}/files", data={"kind": "artifact", "name": "weights"},
                              files={"file": ("weights.bin", b"\x00\x01" * 100)})
            assert upload.status_code == 200, upload.text
            ended = api.post(f"/runs/{run_id}/end", json={"status": "succeeded"})
            assert ended.status_code == 200 and ended.json()["status"] == "succeeded"
        run = labbook.get_run(run_id)
        assert run.project == "demo" and run.name == "from-curl" and run.tags == ["curl"]
        assert run.inputs == {"lr": 0.01} and run.outputs == {"accuracy": 0.7}
        assert list(run.metric("loss").values) == [0.9, 0.5] and list(run.metric("loss").steps) == [0, 1]
        assert [e.value for e in run.events("text", "note")] == ["hello"]
        assert run.status == "succeeded"
        assert [c["status"] for c in run.status_conditions] == ["running", "succeeded"]
        version = labbook.get_artifact("store://artifacts/demo/weights")
        assert version.read_bytes() == b"\x00\x01" * 100 and version.producer.get("run") == run.uuid
    finally:
        server.stop()


def test_the_server_refuses_an_old_catalog_and_names_the_upgrade(home, postgres_url):
    import sqlalchemy as sa

    from labbook.catalog.catalog import Catalog

    Catalog(postgres_url, auto_migrate=True).engine.dispose()
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0002'"))
    engine.dispose()
    done = subprocess.run([PYTHON, "-m", "labbook.cli.main", "server", "--port", "1"],
                          env=python_env(home, LABBOOK_CATALOG_URL=postgres_url),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "labbook db upgrade" in done.stderr and "0002" in done.stderr


def test_ui_serves_the_local_home_without_a_token(home, tmp_path):
    import httpx

    from labbook.dashboard import static_dir
    from tests.conftest import free_port

    make_project(home, tmp_path / "work")
    port = free_port()
    process = subprocess.Popen([PYTHON, "-m", "labbook.cli.main", "ui", "--port", str(port), "--no-browser"],
                               env=python_env(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        first = process.stdout.readline().decode()
        assert f"http://127.0.0.1:{port}/" in first
        for _ in range(300):
            try:
                index = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.HTTPError:
                import time

                time.sleep(0.1)
        assert index.status_code == 200
        if static_dir() is None:  # a checkout without the built dashboard: the API's pointer page
            assert "/api/v1/docs" in index.text
        else:
            assert '<div id="root">' in index.text
            assert "script-src 'self'" in index.headers["content-security-policy"]
        projects = httpx.get(f"http://127.0.0.1:{port}/api/v1/projects", timeout=10)
        assert projects.status_code == 200 and projects.json()["projects"][0]["name"] == PROJECT
    finally:
        process.terminate()
        process.wait(timeout=20)
        process.stdout.close()


def _children(pid: int) -> list[int]:
    from pathlib import Path

    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found += [int(c) for c in children]
    return found


def test_workers_serve_one_catalog_and_take_writes_for_one_run(home, postgres_url):
    """``--workers 2``: two processes behind one port, on one PostgreSQL catalog; requests on
    fresh connections (so either worker may take each) write one run and read it back whole."""
    import httpx

    from labbook.catalog.catalog import Catalog
    from labbook.catalog.tokens import create_token

    catalog = Catalog(postgres_url, auto_migrate=True)
    try:
        token, _ = create_token(catalog, "workers", "write", None, None)
    finally:
        catalog.close()
    server = ServerProcess(home, "--workers", "2", LABBOOK_CATALOG_URL=postgres_url)
    try:
        import time

        deadline = time.monotonic() + 60
        while len(_children(server.process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = _children(server.process.pid)
        assert len(workers) >= 2, workers
        run_id = uuid_module.uuid4().hex
        headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
        api = f"{server.url}/api/v1"
        assert httpx.put(f"{api}/runs/{run_id}", json={"project": "workers"}, headers=headers).status_code == 201
        for batch in range(20):
            written = httpx.post(f"{api}/runs/{run_id}/metrics", headers=headers, json={"points": [
                {"name": "loss", "value": float(batch * 10 + i), "step": batch * 10 + i} for i in range(10)]})
            assert written.status_code == 200, written.text
        assert httpx.post(f"{api}/runs/{run_id}/end", json={}, headers=headers).status_code == 200
        for _ in range(6):  # every worker reads the same whole series
            series = httpx.get(f"{api}/runs/{run_id}/metrics/series", params={"name": "loss", "points": 1000},
                               headers=headers).json()
            assert series["raw"] is True and series["x"] == list(range(200)), series
            assert series["y"] == [float(v) for v in range(200)]
        assert len(httpx.get(f"{api}/projects", headers=headers).json()["projects"]) == 1
    finally:
        server.stop()
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.2)
    assert not [pid for pid in workers if _alive(pid)], "a worker outlived its server"


def _alive(pid: int) -> bool:
    try:
        from pathlib import Path

        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z"  # a zombie is gone
    except FileNotFoundError:
        return False
