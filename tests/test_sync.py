"""Remote tracking, local first: runs written locally and shipped to a real ``labbook server``.

Every test starts ``labbook server`` as a process on a free port with its own home (SQLite or
PostgreSQL catalog), logs in this process with ``LABBOOK_HOST`` set, and compares both sides.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import labbook
from labbook.sync.protocol import iter_files
from tests.conftest import PYTHON, python_env
from tests.server_helpers import PROJECT, ServerProcess, make_project, run_kwargs
from tests.test_catalog import postgres_url  # noqa: F401 - a fixture: a fresh PostgreSQL database

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(params=["sqlite", "postgresql"])
def server_env(request, tmp_path):
    """The server's own home, and its catalog URL (PostgreSQL for the second variant)."""
    home = tmp_path / "server" / ".labbook"
    home.mkdir(parents=True)
    env = {}
    if request.param == "postgresql":
        env["LABBOOK_CATALOG_URL"] = request.getfixturevalue("postgres_url")
    return home, env


@pytest.fixture
def remote_server(server_env, monkeypatch):
    """A server on its own home (each catalog of server_env), a write token for it, and this
    process's LABBOOK_HOST and LABBOOK_TOKEN pointing at it: (server, token, server_home, env)."""
    server_home, env = server_env
    server = ServerProcess(server_home, **env)
    try:
        token = write_token(server_home, env)
        remote(monkeypatch, server, token)
        yield server, token, server_home, env
    finally:
        server.stop()


def write_token(home: Path, env: dict, scope: str = "write") -> str:
    from labbook.catalog.catalog import Catalog
    from labbook.catalog.tokens import create_token
    from labbook.config import Settings

    settings = Settings.load(env_settings(env), home=home)
    catalog = Catalog(settings.catalog_url)
    try:
        token, _ = create_token(catalog, f"sync-{scope}", scope, None, None)
    finally:
        catalog.close()
    return token


def env_settings(env: dict) -> dict:
    return {"catalog_url": env["LABBOOK_CATALOG_URL"]} if "LABBOOK_CATALOG_URL" in env else {}


def server_settings(home: Path, env: dict):
    from labbook.config import Settings

    return Settings.load(env_settings(env), home=home)


def folder_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every synced file of a run folder (heartbeats are rewritten while alive: left out
    only when ``live``)."""
    return {rel: hashlib.sha256(path.read_bytes()).hexdigest() for rel, path, _mode in iter_files(folder)}


def remote(monkeypatch, server: ServerProcess, token: str, **extra: str) -> None:
    monkeypatch.setenv("LABBOOK_HOST", server.url)
    monkeypatch.setenv("LABBOOK_TOKEN", token)
    for key, value in extra.items():
        monkeypatch.setenv(key, value)


def sync_cli(*args: str, home: Path, host: str, token: str, timeout: float = 120) -> dict:
    """``labbook sync --json ...`` in a fresh process; its JSON summary."""
    done = subprocess.run([PYTHON, "-m", "labbook.cli.main", "sync", "--json", *args],
                          env=python_env(home, LABBOOK_HOST=host, LABBOOK_TOKEN=token),
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)


def test_a_run_logged_with_labbook_host_is_byte_identical_on_the_server(home, tmp_path, remote_server):
    server, token, server_home, env = remote_server
    from labbook.tracking import Run

    with Run(project=PROJECT, name="remote", **run_kwargs()) as run:
        run.log_inputs(lr=0.1)
        for step in range(1000):
            run.log_metric("loss", 1 / (step + 1), step=step)
        run.log_image(np.zeros((4, 4, 3), dtype=np.uint8), name="img", step=1, dataformats="HWC")
    local = run.path
    served = Path(server_settings(server_home, env).artifacts_root) / PROJECT / run.uuid
    assert folder_hashes(local) == folder_hashes(served)
    assert len(folder_hashes(local)) >= 5


def test_a_server_stopped_10_s_mid_run_loses_nothing_and_a_second_sync_sends_no_bytes(
        home, tmp_path, monkeypatch, server_env):
    server_home, env = server_env
    server = ServerProcess(server_home, **env)
    token = write_token(server_home, env)
    port = server.port
    remote(monkeypatch, server, token, LABBOOK_SYNC_TIMEOUT="20")
    from labbook.tracking import Run

    try:
        with Run(project=PROJECT, name="outage", **run_kwargs()) as run:
            for step in range(2000):
                run.log_metric("loss", 1 / (step + 1), step=step)
            time.sleep(1.5)
            server.stop()
            stopped = time.monotonic()
            while time.monotonic() - stopped < 10:  # logging goes on while the server is away
                step += 1
                run.log_metric("loss", 1 / (step + 1), step=step)
                run.log_text("note", f"step {step}", step=step)
                time.sleep(0.01)
            server = ServerProcess(server_home, port=port, **env)
            for _ in range(500):
                step += 1
                run.log_metric("loss", 1 / (step + 1), step=step)
        served = Path(server_settings(server_home, env).artifacts_root) / PROJECT / run.uuid
        first = sync_cli(run.uuid, home=home, host=server.url, token=token)
        assert folder_hashes(run.path) == folder_hashes(served)
        assert len(labbook.get_run(run.uuid).metric("loss")) == step + 1
        second = sync_cli(run.uuid, home=home, host=server.url, token=token)
        assert second["runs"][0]["data_bytes"] == 0, second
        assert second["runs"][0]["requests"] == 1  # one question: what do you hold?
        assert first["runs"][0]["conflicts"] == []
    finally:
        server.stop()


def kill_and_restart(server: ServerProcess, server_home: Path, env: dict) -> ServerProcess:
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=20)
    server.stop()
    return ServerProcess(server_home, port=server.port, **env)


def test_a_run_survives_two_server_sigkills_byte_identical_and_nothing_twice(home, tmp_path, monkeypatch, server_env):
    server_home, env = server_env
    server = ServerProcess(server_home, **env)
    token = write_token(server_home, env)
    remote(monkeypatch, server, token, LABBOOK_SYNC_TIMEOUT="30", LABBOOK_SYNC_INTERVAL="0.2")
    from labbook.tracking import Run

    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(3 * 1024 * 1024))
    killed = 0
    try:
        with Run(project=PROJECT, name="kills", **run_kwargs()) as run:
            for step in range(200_000):
                run.log_metric("loss", 1 / (step + 1), step=step)
                if step % 20_000 == 0:
                    run.log_image(np.full((16, 16, 3), step % 255, dtype=np.uint8), name="sample", step=step,
                                  dataformats="HWC")
                if step in (60_000, 140_000):
                    run.flush()
                    time.sleep(0.5)  # some bytes in flight when it dies
                    server = kill_and_restart(server, server_home, env)
                    killed += 1
                if step == 100_000:
                    version = run.log_artifact(str(weights), name="weights", kind="model")
        assert killed == 2
        sync_cli(run.uuid, home=home, host=server.url, token=token)
        served = Path(server_settings(server_home, env).artifacts_root) / PROJECT / run.uuid
        local, there = folder_hashes(run.path), folder_hashes(served)
        assert local == there
        # nothing twice: the server's series holds each step once
        remote_run = _server_run(server_home, env, run.uuid)
        steps = np.asarray(remote_run.metric("loss").steps)
        assert len(steps) == 200_000 and len(np.unique(steps)) == 200_000
        assert len(remote_run.events("image", "sample")) == 10
        artifact = _server_artifact(server_home, env, version.uri)
        assert artifact.uid == version.uid and artifact.hash == version.hash
        assert hashlib.sha256(Path(artifact.local_path()).read_bytes()).hexdigest() == version.hash
    finally:
        server.stop()


def _server_run(server_home: Path, env: dict, uuid: str):
    from labbook.workspace import get_run

    with _server_catalog(env):
        return get_run(uuid, home=server_home)


def _server_artifact(server_home: Path, env: dict, uri: str):
    with _server_catalog(env):
        return labbook.get_artifact(uri, home=server_home)


class _server_catalog:
    """LABBOOK_CATALOG_URL set to the server's catalog while reading its side."""

    def __init__(self, env: dict) -> None:
        self.env = env

    def __enter__(self):
        self.saved = os.environ.get("LABBOOK_CATALOG_URL")
        if "LABBOOK_CATALOG_URL" in self.env:
            os.environ["LABBOOK_CATALOG_URL"] = self.env["LABBOOK_CATALOG_URL"]

    def __exit__(self, *exc):
        if self.saved is None:
            os.environ.pop("LABBOOK_CATALOG_URL", None)
        else:
            os.environ["LABBOOK_CATALOG_URL"] = self.saved


def test_two_servers_on_one_postgresql_and_one_folder_take_writes_for_one_run(home, tmp_path, postgres_url):
    store = tmp_path / "store"
    env = {"LABBOOK_CATALOG_URL": postgres_url, "LABBOOK_ARTIFACTS_ROOT": str(store)}
    first = ServerProcess(tmp_path / "a" / ".labbook", **env)
    second = ServerProcess(tmp_path / "b" / ".labbook", **env)
    token = write_token(tmp_path / "a" / ".labbook", env)
    from labbook.config import Settings
    from labbook.sync.client import SyncClient
    from labbook.sync.push import RunPusher
    from labbook.sync.runs import artifact_finder
    from labbook.tracking import Run

    settings = Settings.load({})
    stop = threading.Event()
    failures: list[BaseException] = []
    pushers: list[RunPusher] = []
    try:
        run = Run(project=PROJECT, name="two-servers", **run_kwargs())
        pushers = [RunPusher(SyncClient(s.url, token), run.path, artifact_finder(settings)) for s in (first, second)]

        def keep_pushing(pusher: RunPusher, every: float) -> None:
            try:
                while not stop.is_set():
                    pusher.push(deadline=time.monotonic() + 30)
                    time.sleep(every)
            except BaseException as error:  # noqa: BLE001 - reported by the test
                failures.append(error)

        threads = [threading.Thread(target=keep_pushing, args=(p, e)) for p, e in zip(pushers, (0.1, 0.17))]
        for thread in threads:
            thread.start()
        for step in range(30_000):
            run.log_metric("loss", 1 / (step + 1), step=step)
            if step % 3000 == 0:
                run.log_text("note", f"at {step}", step=step)
                run.flush()
                time.sleep(0.1)
        run.log_artifact(str(_file(tmp_path / "data.csv", b"x,y\n1,2\n")), name="data", kind="dataset")
        run.end()
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        assert failures == []
        for index, pusher in enumerate(pushers * 2):  # a last pass through each, twice: the second sends nothing
            result = pusher.push(deadline=time.monotonic() + 30)
            if index >= 2:
                assert result.data_bytes == 0 and result.conflicts == []
        assert folder_hashes(run.path) == folder_hashes(store / PROJECT / run.uuid)
        answers = []
        for server in (first, second, first):
            with server.client(token) as api:
                detail = api.get(f"/runs/{run.uuid}").json()
                series = api.get(f"/runs/{run.uuid}/metrics/series", params={"name": "loss", "points": 10_000}).json()
                artifacts = api.get("/artifacts", params={"project": PROJECT}).json()
                answers.append((detail["status"], detail["metrics"]["loss"]["count"], series["total"],
                                sum(series["count"]), sorted(a["uri"] for a in artifacts["artifacts"])))
        assert answers[0] == answers[1] == answers[2]
        assert answers[0][:4] == ("succeeded", 30_000, 30_000, 30_000)
        assert len(answers[0][4]) == 1
    finally:
        stop.set()
        for pusher in pushers:
            pusher.client.close()
        first.stop()
        second.stop()


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _project_view(made: dict, home: Path) -> dict:
    """Everything a reader sees of the demo-like project, through the Python read API."""
    view = {"runs": {}}
    for uuid in made["runs"] + [made["model_run"]]:
        run = labbook.get_run(uuid, home=home)
        metrics = {}
        for name in run.metric_names():
            series = run.metric(name)
            metrics[name] = (list(series.steps), [float(v) for v in series.values], list(series.timestamps))
        events = {}
        for kind in run.event_kinds():
            if kind == "metric":
                continue
            for name in run.event_names(kind):
                listed = run.events(kind, name)
                events[(kind, name)] = [(e.step, str(e.timestamp), json.dumps(e.value, sort_keys=True, default=str))
                                        for e in listed]
        assets = {rel: hashlib.sha256(path.read_bytes()).hexdigest()
                  for rel, path, _ in iter_files(run.path) if rel.startswith(("assets/", "outputs/"))}
        view["runs"][uuid] = {"name": run.name, "status": run.status, "tags": sorted(run.tags),
                              "inputs": run.inputs, "outputs": run.outputs, "metrics": metrics,
                              "events": events, "assets": assets}
    keep = ("uid", "key", "kind", "number", "hash", "size", "labels", "meta", "producer", "tags", "uri")
    view["artifacts"] = sorted(
        json.dumps({k: getattr(v, k, None) for k in keep}, sort_keys=True, default=str)
         for v in labbook.list_artifacts(PROJECT, home=home))
    graph = labbook.get_lineage(made["model_uri"], direction="both", depth=5, home=home)
    view["lineage"] = (sorted((e.source, e.target, e.relation) for e in graph.edges),
                       sorted((n.id, n.type, n.label) for n in graph.nodes.values()))
    return view


def test_the_demo_project_logged_remotely_reads_back_equal_on_the_server(home, tmp_path, monkeypatch, remote_server):
    server, token, server_home, env = remote_server
    work = tmp_path / "work"
    made = make_project(home, work)
    local = _project_view(made, home)
    monkeypatch.delenv("LABBOOK_HOST")
    with _server_catalog(env):
        there = _project_view(made, server_home)
    assert there["runs"] == local["runs"]
    assert there["artifacts"] == local["artifacts"] and len(local["artifacts"]) == 3
    assert there["lineage"] == local["lineage"] and local["lineage"][0]
    with server.client(token) as api:  # and through the REST API
        for uuid in made["runs"]:
            detail = api.get(f"/runs/{uuid}").json()
            assert detail["inputs"] == local["runs"][uuid]["inputs"]
            assert sorted(detail["tags"]) == local["runs"][uuid]["tags"]
            series = api.get(f"/runs/{uuid}/metrics/series", params={"name": "loss"}).json()
            assert series["raw"] and series["y"] == local["runs"][uuid]["metrics"]["loss"][1]
        lineage = api.get("/lineage", params={"uri": made["model_uri"], "direction": "both", "depth": 5}).json()
        assert sorted((e["source"], e["target"], e["relation"]) for e in lineage["edges"]) == local["lineage"][0]


def test_an_offline_run_is_pushed_later_and_pulled_back_byte_identical(home, tmp_path, monkeypatch, remote_server):
    server, token, server_home, env = remote_server
    from labbook.tracking import Run

    with Run(project=PROJECT, name="offline", is_offline=True, **run_kwargs()) as run:
        run.log_metrics(step=1, loss=0.5, acc=0.1)
        run.log_text("note", "written offline", step=1)
        run.log_image(np.ones((4, 4, 3), dtype=np.uint8), name="img", step=1, dataformats="HWC")
    with server.client(token) as api:
        assert api.get(f"/sync/runs/{run.uuid}").status_code == 404  # nothing was sent
    monkeypatch.setenv("LABBOOK_OFFLINE", "1")
    with Run(project=PROJECT, name="offline-env", **run_kwargs()) as env_run:
        env_run.log_metric("loss", 1.0)
    with server.client(token) as api:
        assert api.get(f"/sync/runs/{env_run.uuid}").status_code == 404
    monkeypatch.delenv("LABBOOK_OFFLINE")

    run.push_offline_run()
    served = Path(server_settings(server_home, env).artifacts_root) / PROJECT / run.uuid
    assert folder_hashes(run.path) == folder_hashes(served)

    elsewhere = tmp_path / "elsewhere" / ".labbook"
    monkeypatch.setenv("LABBOOK_HOME", str(elsewhere))
    labbook.tracking.pull_remote_run  # the module-level function exists too
    from labbook.config import Settings
    from labbook.sync.runs import pull_run

    pulled = pull_run(run.uuid, Settings.load({}))
    assert pulled == elsewhere / "artifacts" / PROJECT / run.uuid
    assert folder_hashes(pulled) == folder_hashes(run.path)
    assert labbook.get_run(run.uuid).metric("loss").values.tolist() == [0.5]  # indexed in that home
    run.pull_remote_run(path=str(tmp_path / "pulled"))  # the Run method, into a folder of the caller's
    assert folder_hashes(tmp_path / "pulled") == folder_hashes(run.path)


def test_a_gap_or_changed_bytes_is_a_409_conflict_and_a_resend_is_a_no_op(home, tmp_path, server_env):
    server_home, env = server_env
    server = ServerProcess(server_home, **env)
    token = write_token(server_home, env)
    uuid = "0" * 31 + "1"
    run_json = json.dumps({"format": "labbook.run", "uuid": uuid, "project": PROJECT, "status": "running",
                           "created_at": "2026-11-30T12:00:00+00:00"})
    path = "events/text/note/0-1-abcdef.jsonl"
    try:
        with server.client(token) as api:
            bad = api.put(f"/sync/runs/{uuid}", json={"project": PROJECT, "run_json": "{}"})
            assert bad.status_code == 422 and "run_json" in bad.json()["error"]["message"]
            created = api.put(f"/sync/runs/{uuid}", json={"project": PROJECT, "run_json": run_json})
            again = api.put(f"/sync/runs/{uuid}", json={"project": PROJECT, "run_json": run_json})
            assert (created.status_code, again.status_code) == (201, 200)
            def append(offset, data):
                return api.post(f"/sync/runs/{uuid}/append", params={"path": path, "offset": offset}, content=data)

            assert append(0, b"hello ").json()["committed"] == 6
            assert append(0, b"hello world\n").json()["committed"] == 12  # overlap compared, rest appended
            assert append(6, b"world\n").json()["committed"] == 12  # a resend: nothing written
            gap = append(20, b"late")
            changed = append(0, b"HELLO")
            for answer in (gap, changed):
                assert answer.status_code == 409
                assert answer.json()["error"]["code"] == "conflict" and path in answer.json()["error"]["message"]
            held = api.get(f"/sync/runs/{uuid}").json()["files"]
            assert held[path] == {"mode": "append", "size": 12, "sha256": None}
            escape = api.post(f"/sync/runs/{uuid}/append", params={"path": "../x.jsonl", "offset": 0}, content=b"x")
            assert escape.status_code == 403 and escape.json()["error"]["code"] == "forbidden_path"
            wrong = api.put(f"/sync/blobs/{'a' * 64}", params={"offset": 0, "size": 3}, content=b"abc")
            assert wrong.status_code == 409  # bytes that do not hash to the blob's name are refused
            digest = hashlib.sha256(b"abc").hexdigest()
            part = api.put(f"/sync/blobs/{digest}", params={"offset": 0, "size": 3}, content=b"ab").json()
            assert part == {"committed": 2, "complete": False}
            assert api.get(f"/sync/blobs/{digest}/upload").json() == {"committed": 2, "complete": False}
            assert api.put(f"/sync/blobs/{digest}", params={"offset": 2, "size": 3}, content=b"c").json()["complete"]
            assert api.post("/sync/blobs/missing", json={"hashes": [digest, "b" * 64]}).json() == {"hashes": ["b" * 64]}
            read_only = write_token(server_home, env, "read")
        with server.client(read_only) as api:
            assert api.post(f"/sync/runs/{uuid}/append", params={"path": path, "offset": 12}, content=b"x").status_code == 403
    finally:
        server.stop()


def test_the_read_api_and_cli_read_a_server_with_labbook_host_set(home, tmp_path, monkeypatch, remote_server):
    server, token, server_home, env = remote_server
    made = make_project(home, tmp_path / "work")
    monkeypatch.setenv("LABBOOK_OFFLINE", "1")  # this home's own copies, read locally
    expected = {u: labbook.get_run(u) for u in made["runs"]}
    local_rows = labbook.search_runs(PROJECT, filter="params.lr < 0.05", order_by=["metrics.loss.min"])
    assert all(type(r) is labbook.runs.RunRow for r in local_rows)
    monkeypatch.delenv("LABBOOK_OFFLINE")
    elsewhere = tmp_path / "elsewhere" / ".labbook"  # a machine that logged none of them
    monkeypatch.setenv("LABBOOK_HOME", str(elsewhere))
    rows = labbook.search_runs(PROJECT, filter="params.lr < 0.05", order_by=["metrics.loss.min"])
    assert [r.uuid for r in rows] == [r.uuid for r in local_rows] and len(rows) == 2
    assert [r.inputs for r in rows] == [r.inputs for r in local_rows]
    assert [r.summaries["loss"]["min"] for r in rows] == [r.summaries["loss"]["min"] for r in local_rows]
    assert type(rows[0]) is labbook.runs.RemoteRunRow and isinstance(rows[0], labbook.runs.RunRow)
    assert rows[0].status == "succeeded"
    for uuid, mine in expected.items():
        theirs = labbook.get_run(uuid)
        assert type(theirs) is type(mine)
        assert theirs.inputs == mine.inputs and theirs.tags == mine.tags and theirs.outputs == mine.outputs
        assert theirs.metric("loss").values.tolist() == mine.metric("loss").values.tolist()
        assert [e.value for e in theirs.events("text", "note")] == [e.value for e in mine.events("text", "note")]
        assert folder_hashes(theirs.path) == folder_hashes(mine.path)
    assert rows[0].metric("loss").values.tolist() == expected[rows[0].uuid].metric("loss").values.tolist()
    shown = subprocess.run([PYTHON, "-m", "labbook.cli.main", "runs", "ls", "-p", PROJECT, "--json"],
                           env=python_env(elsewhere, LABBOOK_HOST=server.url, LABBOOK_TOKEN=token),
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert {r["uuid"] for r in json.loads(shown.stdout)} == set(made["runs"]) | {made["model_run"]}


def test_the_curl_guide_of_the_docs_runs_as_written(home, tmp_path):
    """docs/server.md's 'Tracking a run with curl' block, run by bash with curl, unchanged but
    for the server's port."""
    import re
    import shutil
    import sys

    from tests.conftest import require

    require(shutil.which("curl") is not None, "curl is not installed")
    text = (Path(__file__).resolve().parents[1] / "docs" / "server.md").read_text()
    block = re.search(r"### Tracking a run with curl\n\n```bash\n(.*?)```", text, re.S).group(1)
    server = ServerProcess(home)
    try:
        (tmp_path / "work" / "weights.bin").write_bytes(b"\x00\x01" * 100)
        script = block.replace("http://127.0.0.1:8000", server.url)
        env = python_env(home)
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]  # the labbook command
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path / "work", env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr + done.stdout
        runs = labbook.search_runs("demo", home=home)
        assert [r.name for r in runs] == ["from-curl"] and runs[0].status == "succeeded"
        assert runs[0].inputs == {"lr": 0.01} and runs[0].outputs == {"accuracy": 0.7}
        assert runs[0].metric("loss").values.tolist() == [0.9, 0.5]
        assert labbook.get_artifact("store://artifacts/demo/weights", home=home).read_bytes() == b"\x00\x01" * 100
        assert '"name":"loss"' in done.stdout.replace(" ", "")  # the series read back at the end
    finally:
        server.stop()




def test_a_server_on_s3_and_postgresql_holds_every_synced_file_in_the_store(home, tmp_path, monkeypatch, s3_bucket,
                                                                     postgres_url):
    server_home = tmp_path / "server" / ".labbook"
    env = {"LABBOOK_CATALOG_URL": postgres_url, "LABBOOK_STORE": s3_bucket}
    server = ServerProcess(server_home, **env)
    token = write_token(server_home, env)
    remote(monkeypatch, server, token, LABBOOK_SYNC_INTERVAL="0.2")
    from labbook.catalog.catalog import Catalog
    from labbook.catalog.chunks import ChunkedFiles
    from labbook.tracking import Run

    try:
        with Run(project=PROJECT, name="on-s3", **run_kwargs()) as run:
            for step in range(50_000):
                run.log_metric("loss", 1 / (step + 1), step=step)
                if step == 20_000:
                    run.flush()
                    time.sleep(0.5)
                    server = kill_and_restart(server, server_home, env)
            run.log_text("note", "done", step=step)
        sync_cli(run.uuid, home=home, host=server.url, token=token)
        catalog = Catalog(postgres_url)
        store = ChunkedFiles(s3_bucket, catalog)
        held = store.files(run.uuid)
        append_files = {rel: path for rel, path, mode in iter_files(run.path) if mode == "append"}
        assert set(held) == set(append_files) and any(rel.startswith("events/metric/") for rel in held)
        for rel, path in append_files.items():
            assert store.read(run.uuid, rel) == path.read_bytes()  # byte for byte, nothing twice
        catalog.close()
        assert _store_hashes(s3_bucket, postgres_url, run.uuid) == folder_hashes(run.path)  # every file
        shutil.rmtree(server_home / "artifacts" / PROJECT / run.uuid)  # the server's folder is only a cache
        with server.client(token) as api:
            series = api.get(f"/runs/{run.uuid}/metrics/series", params={"name": "loss", "points": 100}).json()
            assert series["total"] == 50_000 and series["source"] in ("chunks", "compacted")
            done = subprocess.run([PYTHON, "-m", "labbook.cli.main", "server", "--role", "worker", "--once"],
                                  env=python_env(server_home, **env), capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            again = api.get(f"/runs/{run.uuid}/metrics/series", params={"name": "loss", "points": 100}).json()
            assert again["source"] == "compacted", (done.stdout, done.stderr)
            assert again["max"] == series["max"] and again["count"] == series["count"]
        elsewhere = tmp_path / "elsewhere"
        from labbook.config import Settings
        from labbook.sync.runs import pull_run

        pulled = pull_run(run.uuid, Settings.load({}), dest=elsewhere)
        assert folder_hashes(pulled) == folder_hashes(run.path)
    finally:
        server.stop()


def test_labbook_sync_follow_ships_an_offline_run_while_it_runs_and_stops_when_it_ends(home, tmp_path, monkeypatch):
    server_home = tmp_path / "server" / ".labbook"
    server = ServerProcess(server_home)
    token = write_token(server_home, {})
    from labbook.tracking import Run

    try:
        run = Run(project=PROJECT, name="followed", is_offline=True, **run_kwargs())
        run.log_metric("loss", 1.0, step=0)
        run.flush()
        follower = subprocess.Popen([PYTHON, "-m", "labbook.cli.main", "sync", run.uuid, "--follow", "--json"],
                                    env=python_env(home, LABBOOK_HOST=server.url, LABBOOK_TOKEN=token),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        served = server_home / "artifacts" / PROJECT / run.uuid
        seen_live = False
        for step in range(1, 400):
            run.log_metric("loss", 1 / (step + 1), step=step)
            time.sleep(0.01)
            if not seen_live and (served / "run.json").is_file():
                seen_live = json.loads((served / "run.json").read_text())["status"] == "running"
        assert follower.poll() is None  # still following: the run runs
        run.end()
        out, err = follower.communicate(timeout=60)
        assert follower.returncode == 0, err
        assert seen_live
        assert json.loads(out)["runs"][0]["data_bytes"] > 0
        assert folder_hashes(run.path) == folder_hashes(served)
    finally:
        server.stop()


def test_get_artifact_reads_a_version_from_the_server_with_labbook_host_set(home, tmp_path, monkeypatch):
    server_home = tmp_path / "server" / ".labbook"
    server = ServerProcess(server_home)
    token = write_token(server_home, {})
    remote(monkeypatch, server, token)
    try:
        made = make_project(home, tmp_path / "work")
        mine = labbook.get_artifact(made["model_uri"])
        monkeypatch.setenv("LABBOOK_HOME", str(tmp_path / "elsewhere" / ".labbook"))
        theirs = labbook.get_artifact(made["model_uri"])
        assert type(theirs) is type(mine)
        assert (theirs.uid, theirs.key, theirs.kind, theirs.hash, theirs.meta) == (mine.uid, mine.key, mine.kind,
                                                                                mine.hash, mine.meta)
        assert Path(theirs.local_path()).read_bytes() == Path(mine.local_path()).read_bytes() == b"weights" * 10
        latest = labbook.get_artifact(f"store://datasets/{PROJECT}/train-data")
        assert latest.uid == labbook.get_artifact(made["data_uri"], home=home).uid
    finally:
        server.stop()


def _store_hashes(store_url: str, catalog_url: str, uuid: str) -> dict[str, str]:
    """sha256 of every file of a run as the object store holds it (chunks, records and blobs)."""
    from labbook.catalog.catalog import Catalog
    from labbook.catalog.chunks import ChunkedFiles
    from labbook.server.stored import StoredRuns

    catalog = Catalog(catalog_url)
    try:
        stored = StoredRuns(ChunkedFiles(store_url, catalog), "/nonexistent")
        found = {rel: hashlib.sha256(stored.read(uuid, rel)).hexdigest()
                 for rel in stored.chunks.files(uuid)}
        for rel, row in stored.rows(uuid).items():
            data = stored.chunks.get_object(row["object"])
            assert hashlib.sha256(data).hexdigest() == row["sha256"] and len(data) == row["size"]
            found[rel] = row["sha256"]
        return found
    finally:
        catalog.close()


def test_two_servers_on_one_postgresql_and_one_bucket_serve_every_kind_without_a_shared_folder(
        home, tmp_path, monkeypatch, s3_bucket, postgres_url):
    """Stateless replicas: a client writes through one server; the other, whose home holds
    nothing of the run, reads every kind back from the bucket and the catalog."""
    env = {"LABBOOK_CATALOG_URL": postgres_url, "LABBOOK_STORE": s3_bucket}
    first_home, second_home = tmp_path / "a" / ".labbook", tmp_path / "b" / ".labbook"
    first = ServerProcess(first_home, **env)
    second = ServerProcess(second_home, **env)
    token = write_token(first_home, env)
    remote(monkeypatch, first, token, LABBOOK_SYNC_INTERVAL="0.2")
    from labbook.tracking import Run

    weights = _file(tmp_path / "weights.bin", os.urandom(300_000))
    image = np.arange(32 * 32 * 3, dtype=np.uint8).reshape(32, 32, 3)
    try:
        with Run(project=PROJECT, name="replicas", **run_kwargs(track_logs=True)) as run:
            for step in range(3000):
                run.log_metric("loss", 1 / (step + 1), step=step)
            run.log_image(image, name="sample", step=7, dataformats="HWC")
            run.log_text("note", "from the first server", step=1)
            for index in range(5):
                os.write(1, f"replica line {index}\n".encode())
            version = run.log_artifact(str(weights), name="weights", kind="model")
        sync_cli(run.uuid, home=home, host=first.url, token=token)
        assert _store_hashes(s3_bucket, postgres_url, run.uuid) == folder_hashes(run.path)
        shutil.rmtree(first_home / "artifacts")  # neither server keeps anything the other needs
        assert not (second_home / "artifacts" / PROJECT / run.uuid).exists()
        with second.client(token) as api:
            detail = api.get(f"/runs/{run.uuid}").json()
            assert detail["status"] == "succeeded" and detail["metrics"]["loss"]["count"] == 3000
            series = api.get(f"/runs/{run.uuid}/metrics/series", params={"name": "loss", "points": 10_000}).json()
            assert series["total"] == 3000 and series["y"][:2] == [1.0, 0.5]
            texts = api.get(f"/runs/{run.uuid}/events", params={"kind": "text", "name": "note"}).json()
            assert [e["value"] for e in texts["events"]] == ["from the first server"]
            images = api.get(f"/runs/{run.uuid}/events", params={"kind": "image", "name": "sample"}).json()
            asset = images["events"][0]["file"]
            whole = (run.path / asset).read_bytes()
            ranged = api.get(f"/runs/{run.uuid}/files/{asset}", headers={"Range": "bytes=10-49"})
            assert ranged.status_code == 206 and ranged.content == whole[10:50]
            assert api.get(f"/runs/{run.uuid}/files/{asset}").content == whole
            logs = api.get(f"/runs/{run.uuid}/logs").json()
            assert [f"replica line {i}" for i in range(5)] == [
                line["message"] for line in logs["lines"] if line["message"].startswith("replica line")]
            download = api.get("/artifacts/download", params={"uri": version.uri})
            assert download.status_code == 200 and download.content == weights.read_bytes()
        with first.client(token) as api:  # the first server rebuilds its cache from the store too
            download = api.get(f"/runs/{run.uuid}/files/{asset}")
            assert download.content == whole
        assert not list(second_home.glob("artifacts/.sync/blobs/*/*"))  # no blob was written there
    finally:
        first.stop()
        second.stop()


def _artifact_view(versions) -> list:
    keep = ("uri", "uid", "key", "kind", "version", "hash", "size", "labels", "meta", "producer", "tags",
            "summary", "created_at", "description")
    return [tuple(json.dumps(getattr(v, k), sort_keys=True, default=str) for k in keep) for v in versions]


def _graph_view(graph) -> tuple:
    return (graph.root, sorted((e.source, e.target, e.relation) for e in graph.edges),
            sorted((n.id, n.type, n.label, json.dumps(n.data, sort_keys=True, default=str))
                   for n in graph.nodes.values()))


def test_every_read_function_and_cli_read_command_reads_the_server_with_labbook_host_set(
        home, tmp_path, monkeypatch):
    """list_projects, list_runs, list_artifacts (every filter, paging), get_lineage (reference
    nodes with name, kind and summary) and the CLI's artifacts ls/show and lineage: from a home
    that logged nothing, equal to what the logging home reads locally."""
    from labbook import remote as remote_module
    from labbook.tracking import Run

    server_home = tmp_path / "server" / ".labbook"
    server = ServerProcess(server_home)
    token = write_token(server_home, {})
    remote(monkeypatch, server, token)
    try:
        made = make_project(home, tmp_path / "work")
        with Run(project=PROJECT, name="with-ref", **run_kwargs()) as run:
            run.use_artifact(made["model_uri"])
            run.log_artifact_ref("s3://bucket/eval/report.json", name="eval-report", kind="dataset",
                                 summary={"rows": 12, "split": "test"}, is_input=True)
            run.log_artifact(str(_file(tmp_path / "preds.csv", b"p\n1\n")), name="preds", kind="dataset",
                             labels={"split": "test"})
        searches = [dict(filter="params.lr < 0.05", order_by=["metrics.loss.min"], limit=None),
                    dict(order_by=["params.lr"], limit=3, offset=1), dict(order_by="-name", limit=None),
                    dict(filter="tags contains 'sweep'", order_by=["-params.layers", "name"], limit=2, offset=1),
                    dict(filter="status = 'succeeded'", limit=0)]
        monkeypatch.setenv("LABBOOK_OFFLINE", "1")  # what the logging home reads of its own catalog
        queries = [dict(), dict(kind="dataset"), dict(kind="datasets", latest_only=True), dict(key="train-data"),
                   dict(key="~data"), dict(labels={"split": "test"}), dict(labels="split"), dict(tag="latest"),
                   dict(producer=made["model_run"]), dict(limit=2, offset=1), dict(limit=None)]
        local = {"projects": [(p.name, p.run_count) for p in labbook.list_projects()],
                 "runs": [r.uuid for r in labbook.list_runs(PROJECT, limit=None)],
                 "searches": [[(r.uuid, r.status, r.inputs) for r in labbook.search_runs(PROJECT, **q)]
                              for q in searches],
                 "artifacts": [_artifact_view(labbook.list_artifacts(PROJECT, **q)) for q in queries],
                 "lineage": [_graph_view(labbook.get_lineage(start, direction="both", depth=3))
                             for start in (made["model_uri"], run.uuid)]}
        monkeypatch.delenv("LABBOOK_OFFLINE")
        elsewhere = tmp_path / "elsewhere" / ".labbook"
        monkeypatch.setenv("LABBOOK_HOME", str(elsewhere))
        monkeypatch.setattr(remote_module, "PAGE_SIZE", 2)  # every answer below takes several pages
        there = {"projects": [(p.name, p.run_count) for p in labbook.list_projects()],
                 "runs": [r.uuid for r in labbook.list_runs(PROJECT, limit=None)],
                 "searches": [[(r.uuid, r.status, r.inputs) for r in labbook.search_runs(PROJECT, **q)]
                              for q in searches],
                 "artifacts": [_artifact_view(labbook.list_artifacts(PROJECT, **q)) for q in queries],
                 "lineage": [_graph_view(labbook.get_lineage(start, direction="both", depth=3))
                             for start in (made["model_uri"], run.uuid)]}
        assert there == local
        assert len(local["runs"]) == 5 and [len(a) for a in local["artifacts"]][:2] == [4, 3]
        assert [len(found) for found in local["searches"]] == [2, 3, 5, 2, 0]
        assert all(local["artifacts"]) and local["artifacts"][-2] == local["artifacts"][0][1:3]
        ref = [n for n in labbook.get_lineage(run.uuid).nodes.values() if n.type == "ref"
               and n.data.get("name") == "eval-report"]
        assert ref and ref[0].data["kind"] == "dataset" and ref[0].data["summary"] == {"rows": 12, "split": "test"}
        listed = labbook.list_artifacts(PROJECT, key="clf")
        assert isinstance(listed[0], labbook.ArtifactVersion) and isinstance(listed[0], remote_module.RemoteArtifactVersion)
        assert listed[0].read_bytes() == b"weights" * 10  # its bytes come from the server when first read
        with pytest.raises(labbook.errors.InvalidValueError, match="after="):
            labbook.list_artifacts(PROJECT, after=listed[0])
        with pytest.raises(labbook.errors.InvalidValueError, match="depth="):
            labbook.get_lineage(made["model_uri"], depth=11)

        def cli(*args: str):
            done = subprocess.run([PYTHON, "-m", "labbook.cli.main", *args],
                                  env=python_env(elsewhere, LABBOOK_HOST=server.url, LABBOOK_TOKEN=token),
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            return json.loads(done.stdout)

        listed = cli("artifacts", "ls", PROJECT, "--json")
        assert sorted(v["uid"] for v in listed) == sorted(json.loads(v[1]) for v in local["artifacts"][0])
        assert cli("artifacts", "show", made["model_uri"], "--json")["uid"] == made["model_uri"].rsplit("@", 1)[1]
        assert [(p["name"], p["run_count"]) for p in cli("projects", "--json")] == local["projects"]
        graph = cli("lineage", made["model_uri"], "--depth", "3", "--json")
        assert sorted((e["source"], e["target"], e["relation"]) for e in graph["edges"]) == local["lineage"][0][1]
    finally:
        server.stop()


def test_tag_moves_untags_and_deletes_after_the_run_reach_the_server_and_labbook_sync_finishes_them(
        home, tmp_path, monkeypatch, capfd):
    server_home = tmp_path / "server" / ".labbook"
    server = ServerProcess(server_home)
    token = write_token(server_home, {}, "admin")  # DELETE /artifacts needs an admin token
    remote(monkeypatch, server, token, LABBOOK_SYNC_TIMEOUT="3")
    from labbook.sync import changes
    from labbook.tracking import Run

    def on_server(uri: str):
        with server.client(token) as api:
            answer = api.get("/artifacts/version", params={"uri": uri})
            return answer.json()["uid"] if answer.status_code == 200 else answer.status_code

    try:
        with Run(project=PROJECT, name="versions", **run_kwargs()) as run:
            first = run.log_artifact(str(_file(tmp_path / "m.bin", b"one")), name="clf", kind="model")
            second = run.log_artifact(str(_file(tmp_path / "m.bin", b"two")), name="clf", kind="model")
        tagged = f"store://models/{PROJECT}/clf"
        labbook.tag_artifact(first.uri, "prod")
        assert on_server(f"{tagged}:prod") == first.uid
        labbook.tag_artifact(second.uri, "prod")  # the tag moves
        assert on_server(f"{tagged}:prod") == second.uid
        labbook.untag_artifact(tagged, "prod")
        assert on_server(f"{tagged}:prod") == 404
        labbook.delete_artifact(first.uri)
        assert on_server(first.uri) == 404 and on_server(second.uri) == second.uid
        assert changes.pending(labbook.config.Settings.load({})) == []

        port = server.port
        server.stop()  # a change the server cannot take now is kept, and labbook sync sends it
        labbook.tag_artifact(second.uri, "stable")
        labbook.untag_artifact(tagged, "stable")
        labbook.tag_artifact(second.uri, "stable")
        assert "'labbook sync' sends them" in capfd.readouterr().err
        kept = changes.pending(labbook.config.Settings.load({}))
        assert [(c["op"], c["tag"]) for c in kept] == [("tag", "stable"), ("untag", "stable"), ("tag", "stable")]
        server = ServerProcess(server_home, port=port)
        done = subprocess.run([PYTHON, "-m", "labbook.cli.main", "sync", "--json"],
                              env=python_env(home, LABBOOK_HOST=server.url, LABBOOK_TOKEN=token),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["changes"] == {"sent": 3, "pending": 0, "dropped": [], "reason": None}
        assert on_server(f"{tagged}:stable") == second.uid  # applied in order: tagged, untagged, tagged
        assert changes.pending(labbook.config.Settings.load({})) == []
    finally:
        server.stop()


def test_a_directory_artifact_logged_with_labbook_host_becomes_the_same_version_on_the_server(
        home, tmp_path, monkeypatch):
    server_home = tmp_path / "server" / ".labbook"
    server = ServerProcess(server_home)
    token = write_token(server_home, {})
    remote(monkeypatch, server, token)
    from labbook.tracking import Run

    folder = tmp_path / "checkpoint"
    (folder / "shards").mkdir(parents=True)
    (folder / "config.json").write_text('{"layers": 3}')
    (folder / "shards" / "0.bin").write_bytes(os.urandom(70_000))
    (folder / "shards" / "1.bin").write_bytes(b"same" * 10)
    (folder / "copy.bin").write_bytes(b"same" * 10)  # two files, one blob
    try:
        with Run(project=PROJECT, name="dir", **run_kwargs()) as run:
            version = run.log_artifact(str(folder), name="checkpoint", kind="model")
        assert version.is_dir
        there = _server_artifact(server_home, {}, version.uri)
        assert (there.uid, there.hash, there.is_dir, there.size) == (version.uid, version.hash, True, version.size)
        served = Path(there.local_path())
        assert sorted(p.relative_to(served).as_posix() for p in served.rglob("*") if p.is_file()) == \
            ["config.json", "copy.bin", "shards/0.bin", "shards/1.bin"]
        for rel in ("config.json", "copy.bin", "shards/0.bin", "shards/1.bin"):
            assert (served / rel).read_bytes() == (folder / rel).read_bytes()
        second = sync_cli(run.uuid, home=home, host=server.url, token=token)
        assert second["runs"][0]["data_bytes"] == 0  # nothing twice
        monkeypatch.setenv("LABBOOK_HOME", str(tmp_path / "elsewhere" / ".labbook"))  # read back from the server
        theirs = labbook.get_artifact(version.uri)
        assert theirs.is_dir and (Path(theirs.local_path()) / "shards" / "0.bin").read_bytes() == \
            (folder / "shards" / "0.bin").read_bytes()
        listed = labbook.list_artifacts(PROJECT, key="checkpoint")[0]
        with listed.open(path="config.json") as handle:
            assert handle.read() == b'{"layers": 3}'
        with server.client(token) as api:
            whole = api.get("/artifacts/download", params={"uri": version.uri})
            assert whole.status_code == 422 and "path=" in whole.json()["error"]["message"]
            escape = api.get("/artifacts/download", params={"uri": version.uri, "path": "../../run.json"})
            assert escape.status_code in (403, 422)
        with server.client(token) as api:  # a directory whose files do not hash to its record is refused
            record = {**version.record, "uid": "f" * 32}
            files = {"config.json": hashlib.sha256(b'{"layers": 3}').hexdigest()}
            answer = api.post(f"/sync/runs/{run.uuid}/artifacts", json={"versions": [record],
                                                                       "dir_files": {"f" * 32: files}})
            assert answer.status_code == 409 and "hash to" in answer.json()["error"]["message"]
    finally:
        server.stop()


def test_series_bytes_reaching_a_replica_after_the_final_run_json_reached_another_queue_compaction(
        home, tmp_path, s3_bucket, postgres_url):
    import sqlalchemy as sa

    env = {"LABBOOK_CATALOG_URL": postgres_url, "LABBOOK_STORE": s3_bucket}
    first = ServerProcess(tmp_path / "a" / ".labbook", **env)
    second = ServerProcess(tmp_path / "b" / ".labbook", **env)
    token = write_token(tmp_path / "a" / ".labbook", env)
    uuid = "0" * 31 + "2"
    path = "events/metric/loss/0-1-abcdef.lbm"

    def run_json(status: str) -> str:
        return json.dumps({"format": "labbook.run", "uuid": uuid, "project": PROJECT, "status": status,
                           "created_at": "2026-11-30T12:00:00+00:00"})

    engine = sa.create_engine(postgres_url)
    try:
        with first.client(token) as one, second.client(token) as two:
            assert one.put(f"/sync/runs/{uuid}", json={"project": PROJECT, "run_json": run_json("running")}).status_code == 201
            assert two.post(f"/sync/runs/{uuid}/append", params={"path": path, "offset": 0}, content=b"abc").json()["committed"] == 3
            assert one.put(f"/sync/runs/{uuid}/file", params={"path": "run.json"}, content=run_json("succeeded")).status_code == 200
            with engine.begin() as conn:
                jobs = conn.execute(sa.text("SELECT state FROM jobs WHERE run_uuid = :u"), {"u": uuid}).scalars().all()
                assert jobs == ["pending"]  # queued by the server that took the final run.json
                conn.execute(sa.text("UPDATE jobs SET state = 'done' WHERE run_uuid = :u"), {"u": uuid})
            assert two.post(f"/sync/runs/{uuid}/append", params={"path": path, "offset": 3}, content=b"def").json()["committed"] == 6
            with engine.begin() as conn:
                states = sorted(conn.execute(sa.text("SELECT state FROM jobs WHERE run_uuid = :u"), {"u": uuid}).scalars())
            assert states == ["done", "pending"]  # the replica read the current run.json from the store
    finally:
        engine.dispose()
        first.stop()
        second.stop()


@pytest.mark.timeout(300)
def test_a_run_written_with_the_json_routes_is_kept_in_the_store(tmp_path, postgres_url):
    """With LABBOOK_STORE, what the curl guide's requests write lands in the object store like a
    synced run's files: a second server with an empty home reads the run and its series back."""
    import uuid as uuid_module

    store = str(tmp_path / "objects")
    env = {"LABBOOK_CATALOG_URL": postgres_url, "LABBOOK_STORE": store}
    first_home, second_home = tmp_path / "a" / ".labbook", tmp_path / "b" / ".labbook"
    first = ServerProcess(first_home, **env)
    second = ServerProcess(second_home, **env)
    token = write_token(first_home, env)
    run_id = uuid_module.uuid4().hex
    try:
        with first.client(token) as api:
            assert api.put(f"/runs/{run_id}", json={"project": PROJECT, "name": "from-curl",
                                                    "inputs": {"lr": 0.01}}).status_code == 201
            assert api.post(f"/runs/{run_id}/metrics", json={"points": [
                {"name": "loss", "value": 0.9, "step": 0}, {"name": "loss", "value": 0.5, "step": 1}]}
                ).json()["written"] == 2
            assert api.post(f"/runs/{run_id}/events", json={"events": [
                {"kind": "text", "name": "note", "value": "hello", "step": 1}]}).status_code == 200
            assert api.post(f"/runs/{run_id}/end", json={"status": "succeeded"}).status_code == 200
        folder = next((first_home / "artifacts" / PROJECT).glob(f"{run_id}*"))
        assert _store_hashes(store, postgres_url, run_id) == folder_hashes(folder)  # every file, as written
        with second.client(token) as api:  # a replica whose home holds nothing of the run
            run = api.get(f"/runs/{run_id}")
            assert run.status_code == 200 and run.json()["status"] == "succeeded", run.text
            series = api.get(f"/runs/{run_id}/metrics/series", params={"name": "loss", "points": 10}).json()
            assert series["y"] == [0.9, 0.5]
    finally:
        first.stop()
        second.stop()


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"), pytest.param("store", id="postgresql-folder-store")])
def edited_server(request, tmp_path, monkeypatch):
    """A server (SQLite and a run folder; or PostgreSQL and a folder object store) with this
    process's LABBOOK_HOST pointing at it: (server, token)."""
    server_home = tmp_path / "server" / ".labbook"
    env = {}
    if request.param == "store":
        env = {"LABBOOK_CATALOG_URL": request.getfixturevalue("postgres_url"),
               "LABBOOK_STORE": str(tmp_path / "objects")}
    server = ServerProcess(server_home, **env)
    try:
        token = write_token(server_home, env)
        remote(monkeypatch, server, token)
        yield server, token
    finally:
        server.stop()


def test_a_tag_added_on_the_server_survives_the_owner_syncing_the_run_again(home, tmp_path, edited_server):
    """run.json edited on the server (the dashboard's tag edit, a rename) and then sent again by
    its client is merged field by field: the server's edits stay, the client learns them, and a
    third sync sends nothing."""
    server, token = edited_server
    from labbook.tracking import Run

    with Run(project=PROJECT, name="owned", tags=["mine"], **run_kwargs()) as run:
        run.log_metric("loss", 0.5, step=1)
    with server.client(token) as api:
        assert api.post(f"/runs/{run.uuid}/tags", json={"tags": ["reviewed"]}).status_code == 200
    local_run_json = run.path / "run.json"
    data = json.loads(local_run_json.read_bytes())
    data["outputs"] = {"accuracy": 0.9}  # the owner changed a field too (as a resumed run would)
    local_run_json.write_bytes(json.dumps(data, indent=2).encode())

    sync_cli(run.uuid, home=home, host=server.url, token=token)
    with server.client(token) as api:
        served = api.get(f"/runs/{run.uuid}").json()
        assert sorted(served["tags"]) == ["mine", "reviewed"], f"server tags after sync: {served['tags']}"
        assert served["name"] == "owned" and served["outputs"] == {"accuracy": 0.9}
        held = api.get(f"/sync/runs/{run.uuid}").json()["files"]["run.json"]["sha256"]
    local = json.loads(local_run_json.read_bytes())
    assert sorted(local["tags"]) == ["mine", "reviewed"]  # the client learnt the merged record
    assert held == hashlib.sha256(local_run_json.read_bytes()).hexdigest()
    again = sync_cli(run.uuid, home=home, host=server.url, token=token)
    assert again["runs"][0]["data_bytes"] == 0, again


def test_a_tag_added_on_the_server_while_the_run_runs_is_kept_and_reaches_the_run_folder(
        home, tmp_path, edited_server):
    """The run's own syncer sends run.json again and again while it runs (status, heartbeat):
    an edit made on the server meanwhile stays, and the run folder takes it, its writer's own
    changes included."""
    server, token = edited_server
    from labbook.tracking import Run

    with Run(project=PROJECT, name="live", **run_kwargs()) as run:
        run.log_metric("loss", 0.5, step=1)
        with server.client(token) as api:
            waited = time.monotonic()
            while api.get(f"/sync/runs/{run.uuid}").status_code != 200:  # its syncer made it there
                assert time.monotonic() - waited < 60, "the run never reached the server"
                time.sleep(0.2)
            assert api.post(f"/runs/{run.uuid}/tags", json={"tags": ["reviewed"]}).status_code == 200
        run.log_tags(["best"])
        run.log_metric("loss", 0.4, step=2)
    with server.client(token) as api:
        served = api.get(f"/runs/{run.uuid}").json()
        held = api.get(f"/sync/runs/{run.uuid}").json()["files"]["run.json"]["sha256"]
    assert sorted(served["tags"]) == ["best", "reviewed"], f"server tags after the run: {served['tags']}"
    assert served["status"] == "succeeded"
    assert sorted(json.loads((run.path / "run.json").read_bytes())["tags"]) == ["best", "reviewed"]
    assert held == folder_hashes(run.path)["run.json"]
