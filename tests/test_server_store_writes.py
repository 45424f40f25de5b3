"""Runs written through the JSON routes on replicas sharing one catalog and one object store.

With ``LABBOOK_STORE`` a server's run folder is only a cache: what ``PUT /runs/{uuid}`` and the
``POST /runs/{uuid}/...`` routes write must land in the store, and two replicas writing the same
run must neither lose nor duplicate anything (``labbook.server.stored``: ``write_lock``, ``push``).
"""

from __future__ import annotations

import uuid as uuid_module
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.server_helpers import PROJECT, ServerProcess
from tests.test_catalog import postgres_url  # noqa: F401 - a fixture: a fresh PostgreSQL database
from tests.test_sync import _store_hashes, folder_hashes, write_token


@pytest.fixture(params=[pytest.param("folder", id="folder-store"), pytest.param("s3", id="s3-store")])
def store_url(request, tmp_path) -> str:
    if request.param == "folder":
        return str(tmp_path / "objects")
    return request.getfixturevalue("s3_bucket")


def test_two_replicas_taking_turns_at_json_writes_to_one_run_lose_and_duplicate_nothing(
        tmp_path, postgres_url, store_url):
    env = {"LABBOOK_CATALOG_URL": postgres_url, "LABBOOK_STORE": store_url,
           "LABBOOK_HEARTBEAT_INTERVAL": "0.1"}  # run.json rewritten by each server while writes race
    homes = [tmp_path / name / ".labbook" for name in ("a", "b", "c")]
    first, second = ServerProcess(homes[0], **env), ServerProcess(homes[1], **env)
    third = None
    token = write_token(homes[0], env)
    run_id = uuid_module.uuid4().hex
    try:
        with first.client(token) as a, second.client(token) as b:
            def ok(response):
                assert response.status_code in (200, 201), response.text
                return response.json()

            ok(a.put(f"/runs/{run_id}", json={"project": PROJECT, "name": "turns", "tags": ["from-a"],
                                              "inputs": {"lr": 0.01}}))
            assert b.put(f"/runs/{run_id}", json={"project": PROJECT}).status_code == 200  # exists: kept as is
            ok(b.post(f"/runs/{run_id}/metrics", json={"points": [{"name": "loss", "value": 0.9, "step": 0}]}))
            ok(a.post(f"/runs/{run_id}/inputs", json={"values": {"batch": 32}}))
            ok(b.post(f"/runs/{run_id}/outputs", json={"values": {"accuracy": 0.5}}))
            ok(a.post(f"/runs/{run_id}/metrics", json={"points": [{"name": "loss", "value": 0.5, "step": 1}]}))
            ok(b.post(f"/runs/{run_id}/tags", json={"tags": ["from-b"]}))
            ok(a.post(f"/runs/{run_id}/events", json={"events": [
                {"kind": "text", "name": "note", "value": "from a", "step": 0}]}))
            ok(b.post(f"/runs/{run_id}/events", json={"events": [
                {"kind": "text", "name": "note", "value": "from b", "step": 1}]}))
            ok(a.post(f"/runs/{run_id}/files", data={"kind": "artifact", "name": "report"},
                      files={"file": ("report.txt", b"written on a\n")}))

            def both_at_once(i: int) -> None:  # writes racing on the two replicas
                api = (a, b)[i % 2]
                ok(api.post(f"/runs/{run_id}/inputs", json={"values": {f"k{i}": i}}))
                ok(api.post(f"/runs/{run_id}/metrics", json={"points": [{"name": "m", "value": float(i),
                                                                         "step": i}]}))

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(both_at_once, range(16)))
            ok(b.post(f"/runs/{run_id}/end", json={"status": "succeeded"}))

        third = ServerProcess(homes[2], **env)  # a replica that wrote nothing of the run
        for server in (first, second, third):
            with server.client(token) as api:
                run = ok(api.get(f"/runs/{run_id}"))
                assert run["status"] == "succeeded"
                assert run["inputs"] == {"lr": 0.01, "batch": 32, **{f"k{i}": i for i in range(16)}}
                assert run["outputs"] == {"accuracy": 0.5}
                assert set(run["tags"]) == {"from-a", "from-b"}
                loss = ok(api.get(f"/runs/{run_id}/metrics/series", params={"name": "loss", "points": 100}))
                assert (loss["x"], loss["y"]) == ([0, 1], [0.9, 0.5])
                m = ok(api.get(f"/runs/{run_id}/metrics/series", params={"name": "m", "points": 100}))
                assert sorted(zip(m["x"], m["y"])) == [(i, float(i)) for i in range(16)]
                notes = ok(api.get(f"/runs/{run_id}/events", params={"kind": "text", "name": "note"}))
                assert sorted(e["value"] for e in notes["events"]) == ["from a", "from b"]
                artifacts = ok(api.get("/artifacts", params={"project": PROJECT, "key": "report"}))
                assert len(artifacts["artifacts"]) == 1
                download = api.get("/artifacts/download", params={"uri": f"store://artifacts/{PROJECT}/report"})
                assert download.status_code == 200 and download.content == b"written on a\n", download.text
        held = _store_hashes(store_url, postgres_url, run_id)
        held.pop("run.json")  # read above through each server; a run still open on one beats into its copy
        for home in homes:  # every cache, once read, holds what the store holds (blobs fetched on read)
            cached = folder_hashes(home / "artifacts" / PROJECT / run_id)
            assert cached.pop("run.json") and cached == held
    finally:
        for server in (first, second, third):
            if server is not None:
                server.stop()


def test_without_a_store_the_json_routes_write_the_run_folder_alone(tmp_path):
    """No LABBOOK_STORE: the run folder is the record, and no store table gets a row."""
    import sqlalchemy as sa

    from labbook.catalog import schema
    from labbook.catalog.catalog import Catalog
    from labbook.config import Settings

    home = tmp_path / "a" / ".labbook"
    server = ServerProcess(home)
    token = write_token(home, {})
    run_id = uuid_module.uuid4().hex
    try:
        with server.client(token) as api:
            assert api.put(f"/runs/{run_id}", json={"project": PROJECT, "inputs": {"lr": 0.1}}).status_code == 201
            assert api.post(f"/runs/{run_id}/metrics", json={"points": [{"name": "loss", "value": 1.0}]}
                            ).status_code == 200
            assert api.post(f"/runs/{run_id}/end", json={}).json()["status"] == "succeeded"
        assert (home / "artifacts" / PROJECT / run_id / "run.json").is_file()
        catalog = Catalog(Settings.load({}, home=home).catalog_url)
        try:
            with catalog.engine.connect() as conn:
                for table in (schema.stored_files, schema.stream_files):
                    assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0
        finally:
            catalog.close()
    finally:
        server.stop()


def test_a_json_run_on_sqlite_and_a_folder_store_outlives_its_cache_and_is_compacted(tmp_path):
    """One server on SQLite (its write lock is a file lock): the cache folder may go at any time,
    and ending the run queues the compaction of its series, as a synced run's final run.json does."""
    import shutil
    import subprocess

    from tests.conftest import PYTHON, python_env

    home = tmp_path / "a" / ".labbook"
    env = {"LABBOOK_STORE": str(tmp_path / "objects")}
    server = ServerProcess(home, **env)
    token = write_token(home, {})
    run_id = uuid_module.uuid4().hex
    try:
        with server.client(token) as api:
            assert api.put(f"/runs/{run_id}", json={"project": PROJECT, "inputs": {"lr": 0.1}}).status_code == 201
            points = [{"name": "loss", "value": 1.0 / (step + 1), "step": step} for step in range(500)]
            assert api.post(f"/runs/{run_id}/metrics", json={"points": points}).status_code == 200
            assert api.post(f"/runs/{run_id}/end", json={}).status_code == 200
            shutil.rmtree(home / "artifacts" / PROJECT / run_id)  # only a cache
            run = api.get(f"/runs/{run_id}").json()
            assert run["status"] == "succeeded" and run["inputs"] == {"lr": 0.1}
            before = api.get(f"/runs/{run_id}/metrics/series", params={"name": "loss", "points": 50}).json()
            assert before["total"] == 500 and before["source"] == "chunks"
            done = subprocess.run([PYTHON, "-m", "labbook.cli.main", "server", "--role", "worker", "--once"],
                                  env=python_env(home, **env), capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            after = api.get(f"/runs/{run_id}/metrics/series", params={"name": "loss", "points": 50}).json()
            assert after["source"] == "compacted", (done.stdout, done.stderr)
            assert (after["min"], after["max"], after["count"]) == (before["min"], before["max"], before["count"])
    finally:
        server.stop()


class _FileCalls:
    """Every path the process stats, lists or opens while counting (os.stat, os.lstat,
    os.scandir, os.open, open): what a write costs the file system, counted, not timed."""

    def __init__(self, monkeypatch) -> None:
        import builtins
        import io
        import os

        self.paths: list[str] = []
        self.on = False
        for module, name in ((os, "stat"), (os, "lstat"), (os, "scandir"), (os, "open"), (builtins, "open"),
                             (io, "open")):
            monkeypatch.setattr(module, name, self._counted(getattr(module, name)))

    def _counted(self, function):
        import os

        def counted(path=".", *args, **kwargs):
            if self.on and isinstance(path, (str, bytes, os.PathLike)):
                self.paths.append(os.fsdecode(path))
            return function(path, *args, **kwargs)

        return counted

    def under(self, folder) -> set[str]:
        return {p for p in self.paths if p.startswith(str(folder))}


def test_a_json_write_of_one_metric_to_a_run_of_2000_series_reads_only_what_it_changed(
        tmp_path, store_url, monkeypatch):
    """A JSON write pushes what its writer touched (``RunWriter.files_written``), not the whole
    run folder: one more point of one metric in a run of 2,000 series stats, lists and opens a
    handful of the run's files, none of the 1,999 other series; and the store then holds what a
    push of the whole folder would have put there, byte for byte."""
    from labbook.config import Settings
    from labbook.server.data import FULL, ServerData
    from labbook.sync.protocol import iter_files

    settings = Settings.load({"store": store_url}, home=tmp_path / "server" / ".labbook")
    data = ServerData(settings)
    run_id = uuid_module.uuid4().hex
    try:
        data.create_run(FULL, run_id, PROJECT, "many", None, [], {"lr": 0.1})

        def many(run) -> None:
            for i in range(2000):
                run.log_metric(f"m{i:04d}", float(i), step=0)

        data.write(FULL, run_id, many)
        data.write(FULL, run_id, lambda run: run.log_metric("m0001", 0.5, step=1))
        folder = tmp_path / "server" / ".labbook" / "artifacts" / PROJECT / run_id
        series = {rel.rsplit("/", 1)[0] for rel, _path, _mode in iter_files(folder) if rel.startswith("events/")}
        assert len(series) == 2000  # a slow store may see the run reopened (a second writer): files >= 2000

        calls = _FileCalls(monkeypatch)
        calls.on = True
        data.write(FULL, run_id, lambda run: run.log_metric("m1234", 1.5, step=1))
        calls.on = False
        touched = calls.under(folder / "events")
        assert touched and len(touched) <= 3, sorted(touched)  # the series written (its folder, its file)
        assert all("m1234" in path for path in touched), sorted(touched)
        assert len(calls.under(folder)) <= 20, sorted(calls.under(folder))

        written = folder_hashes(folder)  # before the server's idle closer may detach the run (run.json)

        stored = data.stored
        held = _store_hashes(store_url, settings.catalog_url, run_id)
        assert held == written  # the store holds the cache, the cache the store
        with stored.write_lock(run_id):
            stored.push(PROJECT, run_id)  # the whole folder: nothing more to send (but a later run.json)
        after = _store_hashes(store_url, settings.catalog_url, run_id)
        assert {k: v for k, v in after.items() if k != "run.json"} == {k: v for k, v in held.items() if k != "run.json"}
    finally:
        data.close()


def test_what_a_server_stopped_between_a_write_and_its_push_left_in_its_cache_reaches_the_store(tmp_path):
    """A run's first push in a server process walks its whole cached folder: points a previous
    process wrote there but did not push (stopped between the write and the push) reach the store
    with the next write, although that write's own writer never touched their file."""
    from labbook.config import Settings
    from labbook.server.data import FULL, ServerData
    from labbook.tracking import Run

    store = str(tmp_path / "objects")
    settings = Settings.load({"store": store}, home=tmp_path / "server" / ".labbook")
    run_id = uuid_module.uuid4().hex
    first = ServerData(settings)
    try:
        first.create_run(FULL, run_id, PROJECT, "stopped", None, [], {})
        first.write(FULL, run_id, lambda run: run.log_metric("loss", 1.0, step=0))
    finally:
        first.close()
    # the stopped process's last write: in the cache folder, never pushed
    left = Run(project=PROJECT, run_uuid=run_id, settings=settings, attach=True, install_handlers=False,
               track_code=False, track_env=False, track_logs=False, collect_resources=False, no_op=False)
    left.log_metric("loss", 0.5, step=1)
    left.end()
    folder = tmp_path / "server" / ".labbook" / "artifacts" / PROJECT / run_id
    left_file = f"events/metric/loss/{left.writer_id}.lbm"
    assert left_file not in _store_hashes(store, settings.catalog_url, run_id)

    second = ServerData(settings)
    try:
        second.write(FULL, run_id, lambda run: run.log_metric("accuracy", 0.9, step=1))
        held = _store_hashes(store, settings.catalog_url, run_id)
        assert left_file in held
        assert {k: v for k, v in held.items() if k != "run.json"} == \
            {k: v for k, v in folder_hashes(folder).items() if k != "run.json"}
    finally:
        second.close()
