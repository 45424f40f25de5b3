"""The sync protocol's lists and locks against a real ``labbook server``: the manifest is a capped
keyset-paged list the client follows to the end, and the server's bookkeeping files (bases of
the run.json merge, SQLite's per-run lock files) do not outlive the runs they serve."""

from __future__ import annotations

import hashlib

import pytest

from labbook.config import Settings
from labbook.server.models import MAX_LIMIT
from labbook.sync.push import RunPusher
from labbook.sync.runs import client_for, pull_run
from tests.server_helpers import PROJECT, run_kwargs
from tests.test_catalog import postgres_url  # noqa: F401 - a fixture: a fresh PostgreSQL database
from tests.test_sync import edited_server, folder_hashes  # noqa: F401 - edited_server is a fixture

pytestmark = pytest.mark.timeout(300)


def _offline_run(files: int):
    """An ended offline run whose folder holds ``files`` output files beside its metric."""
    from labbook.tracking import Run

    with Run(project=PROJECT, name="many-files", is_offline=True, **run_kwargs()) as run:
        run.log_metric("loss", 0.5, step=1)
    outputs = run.path / "outputs"
    outputs.mkdir(exist_ok=True)
    for i in range(files):  # mostly the same bytes: one blob to upload, a path each to link
        (outputs / f"f{i:04d}.txt").write_bytes(b"the same bytes\n" if i % 100 else f"file {i}\n".encode())
    return run


def test_a_run_with_more_files_than_a_manifest_page_syncs_and_pulls_byte_identically(
        home, tmp_path, monkeypatch, edited_server):
    server, token = edited_server
    run = _offline_run(MAX_LIMIT + 20)
    run.push_offline_run()

    with server.client(token) as api:
        first = api.get(f"/sync/runs/{run.uuid}").json()
        assert len(first["files"]) == MAX_LIMIT and first["next_cursor"]  # the cap is the default page
        pages, answer, seen = 1, first, dict(first["files"])
        while answer["next_cursor"]:
            answer = api.get(f"/sync/runs/{run.uuid}", params={"cursor": answer["next_cursor"], "limit": 7}).json()
            assert len(answer["files"]) <= 7
            assert not set(answer["files"]) & set(seen), "a file on two pages"
            seen.update(answer["files"])
            pages += 1
        assert pages == 1 + -(-(len(folder_hashes(run.path)) - MAX_LIMIT) // 7)
        assert {path: held["sha256"] for path, held in seen.items() if held["sha256"]} == \
            {path: digest for path, digest in folder_hashes(run.path).items() if path in seen and seen[path]["sha256"]}
        assert set(seen) == set(folder_hashes(run.path))

        refused = api.get(f"/sync/runs/{run.uuid}", params={"limit": MAX_LIMIT + 1})
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "limit", refused.text
        other = api.get(f"/sync/runs/{'f' * 32}", params={"cursor": first["next_cursor"]})  # another run's list
        assert other.status_code in (400, 404) and "error" in other.json()
        bad = api.get(f"/sync/runs/{run.uuid}", params={"cursor": "not-a-cursor"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_cursor", bad.text

    client = client_for(Settings.load({}))
    try:  # a second pass reads every page of the manifest, so it finds nothing to send
        again = RunPusher(client, run.path).push()
    finally:
        client.close()
    assert again.data_bytes == 0 and again.files == [], again.as_dict()

    pulled = pull_run(run.uuid, Settings.load({}), dest=tmp_path / "pulled")
    assert folder_hashes(pulled) == folder_hashes(run.path)
    assert hashlib.sha256((pulled / "outputs" / "f0000.txt").read_bytes()).hexdigest() == \
        hashlib.sha256(b"file 0\n").hexdigest()


def _base_files(tmp_path, uuid: str) -> list:
    """The merge bases the server keeps for run ``uuid`` (run folders' root or folder store)."""
    return [p for p in tmp_path.glob(f"server/.labbook/**/.sync/bases/{uuid}")] + \
        [p for p in tmp_path.glob(f"objects/**/bases/{uuid}")]


def test_a_run_synced_before_bases_were_kept_keeps_a_server_edit_when_sent_again(home, tmp_path, edited_server):
    """A run with no base (synced before the merge existed) edited on the server: the edit
    saves the run.json as it was (what its client last sent) as the base first, so the client's
    next run.json is merged with the edit rather than replacing it."""
    import json

    from tests.test_sync import sync_cli

    server, token = edited_server
    from labbook.tracking import Run

    with Run(project=PROJECT, name="old", tags=["mine"], **run_kwargs()) as run:
        run.log_metric("loss", 0.5, step=1)
    for base in _base_files(tmp_path, run.uuid):  # an ended run has none (as a server older than bases left it)
        base.unlink()
    with server.client(token) as api:
        assert api.post(f"/runs/{run.uuid}/tags", json={"tags": ["reviewed"]}).status_code == 200
    local_run_json = run.path / "run.json"
    data = json.loads(local_run_json.read_bytes())
    data["outputs"] = {"accuracy": 0.9}
    local_run_json.write_bytes(json.dumps(data, indent=2).encode())

    sync_cli(run.uuid, home=home, host=server.url, token=token)
    with server.client(token) as api:
        served = api.get(f"/runs/{run.uuid}").json()
    assert sorted(served["tags"]) == ["mine", "reviewed"], served["tags"]
    assert served["outputs"] == {"accuracy": 0.9}
    assert sorted(json.loads(local_run_json.read_bytes())["tags"]) == ["mine", "reviewed"]


def test_a_removed_lock_file_is_never_held_twice_and_idle_free_ones_are_swept(tmp_path):
    """A lock file removed by its holder while another waits on it: the waiter starts over on
    the new file, so two holders never overlap; the sweep removes idle files whose lock is free
    and leaves a held one."""
    import os
    import threading
    import time

    from labbook.server.run_locks import FileLocks

    locks = FileLocks(tmp_path / "db.locks")
    uuid = "a" * 32
    inside, overlaps, order = [0], [], []
    guard = threading.Lock()

    def take(name: str, remove: bool) -> None:
        with locks.hold(uuid):
            with guard:
                inside[0] += 1
                overlaps.append(inside[0])
            order.append(name)
            time.sleep(0.2)
            if remove:
                locks.remove(uuid)
            with guard:
                inside[0] -= 1

    threads = [threading.Thread(target=take, args=(f"t{i}", i % 2 == 0)) for i in range(6)]
    for thread in threads:
        thread.start()
        time.sleep(0.02)
    for thread in threads:
        thread.join(10)
    assert len(order) == 6 and max(overlaps) == 1, overlaps

    for name in ("b", "c"):
        with locks.hold(name * 32):
            pass
    old = time.time() - 7200
    for name in ("b", "c"):
        os.utime(locks.path(name * 32), (old, old))
    with locks.hold("c" * 32):  # in use: stays
        os.utime(locks.path("c" * 32), (old, old))
        assert locks.sweep(older_than=3600) == 1
    assert not locks.path("b" * 32).exists() and locks.path("c" * 32).exists()
    assert locks.sweep(older_than=10**6) == 0  # recent ones stay


def test_sqlite_lock_files_go_when_a_run_ends_and_the_worker_sweeps_the_rest(tmp_path):
    """On a SQLite catalog with an object store, a run written through the JSON routes leaves no
    lock file once it ends; one left by a run that never ended (its client gone, a server
    killed) is removed by the worker's garbage collection once idle, with the merge bases of
    runs the store no longer holds."""
    import os
    import time
    import uuid as uuid_module

    from labbook.catalog.catalog import Catalog
    from labbook.catalog.chunks import ChunkedFiles
    from labbook.server.worker import Worker
    from tests.server_helpers import ServerProcess
    from tests.test_sync import server_settings, write_token

    store = str(tmp_path / "objects")
    env = {"LABBOOK_STORE": store}
    server_home = tmp_path / "server" / ".labbook"
    server = ServerProcess(server_home, **env)
    token = write_token(server_home, {})
    run_id = uuid_module.uuid4().hex
    try:
        with server.client(token) as api:
            assert api.put(f"/runs/{run_id}", json={"project": PROJECT, "name": "locked"}).status_code == 201
            assert api.post(f"/runs/{run_id}/metrics", json={"points": [
                {"name": "loss", "value": 0.9, "step": 0}]}).json()["written"] == 1
            lock_files = list(server_home.rglob(f"*.locks/{run_id}.lock"))
            assert len(lock_files) == 1, list(server_home.rglob("*.lock"))
            assert api.post(f"/runs/{run_id}/end", json={"status": "succeeded"}).status_code == 200
            assert not lock_files[0].exists()
            assert api.post(f"/runs/{run_id}/tags", json={"tags": ["late"]}).status_code == 200
            assert not lock_files[0].exists()  # a write to an ended run drops it again
    finally:
        server.stop()

    settings = server_settings(server_home, {})
    catalog = Catalog(settings.catalog_url)
    try:
        files = ChunkedFiles(store, catalog)
        files.put_object(files.object_path("bases", "d" * 32), b"{}")  # a deleted run's base
        files.put_object(files.object_path("bases", run_id), b"{}")  # a run the store holds
        lock_files[0].touch()  # as a run written and never ended leaves it
        worker = Worker(files)
        assert worker.collect_garbage() == {"lock_files": 0, "bases": 1}  # the lock file is recent
        old = time.time() - 7200
        os.utime(lock_files[0], (old, old))
        assert worker.collect_garbage() == {"lock_files": 1, "bases": 0}
        assert not lock_files[0].exists()
        assert files.fs.exists(files.object_path("bases", run_id))
        assert not files.fs.exists(files.object_path("bases", "d" * 32))
    finally:
        catalog.close()


def test_a_base_goes_when_the_run_has_ended_and_both_sides_hold_one_run_json(home, tmp_path, edited_server):
    """A live run's bases are dropped once its final run.json is the server's too; a later edit
    on the server brings one back (the run.json it replaced), the owner's next sync merges with
    it, and then it goes again."""
    import json

    from tests.test_sync import sync_cli

    server, token = edited_server
    from labbook.tracking import Run

    with Run(project=PROJECT, name="ended", tags=["mine"], **run_kwargs()) as run:
        run.log_metric("loss", 0.5, step=1)
    assert _base_files(tmp_path, run.uuid) == []
    with server.client(token) as api:
        assert api.post(f"/runs/{run.uuid}/tags", json={"tags": ["reviewed"]}).status_code == 200
    assert len(_base_files(tmp_path, run.uuid)) == 1
    local_run_json = run.path / "run.json"
    data = json.loads(local_run_json.read_bytes())
    data["description"] = "written after the end"
    local_run_json.write_bytes(json.dumps(data, indent=2).encode())
    sync_cli(run.uuid, home=home, host=server.url, token=token)
    with server.client(token) as api:
        served = api.get(f"/runs/{run.uuid}").json()
    assert sorted(served["tags"]) == ["mine", "reviewed"] and served["description"] == "written after the end"
    assert _base_files(tmp_path, run.uuid) == []


@pytest.mark.parametrize("replicas", [pytest.param(1, id="sqlite-one-server"),
                                      pytest.param(2, id="postgresql-store-two-replicas")])
def test_json_writes_and_sync_appends_of_one_run_interleave_and_keep_everything_once(
        home, tmp_path, monkeypatch, request, replicas):
    """A live run syncs (appends of its metric file, run.json again and again) while the JSON
    write routes log params and points of the same metric into the same run, from another
    thread of one server (SQLite, run folders) or through another replica (PostgreSQL, object
    store): the appends take no run lock (docs/server.md says why), and the end state holds
    every point once and every param."""
    import threading
    import time

    from labbook.tracking import Run
    from tests.server_helpers import ServerProcess
    from tests.test_sync import remote, write_token

    env = {}
    if replicas == 2:
        env = {"LABBOOK_CATALOG_URL": request.getfixturevalue("postgres_url"),
               "LABBOOK_STORE": str(tmp_path / "objects")}
    first = ServerProcess(tmp_path / "a" / ".labbook", **env)
    second = ServerProcess(tmp_path / "b" / ".labbook", **env) if replicas == 2 else first
    token = write_token(tmp_path / "a" / ".labbook", env)
    remote(monkeypatch, second, token)  # the run's syncer sends to the second replica
    served, failures = 40, []
    try:
        with Run(project=PROJECT, name="both", **run_kwargs()) as run:
            run.log_inputs(client=1)
            run.log_metric("loss", 0.0, step=0)
            with first.client(token) as api:
                waited = time.monotonic()
                while api.get(f"/sync/runs/{run.uuid}").status_code != 200:
                    assert time.monotonic() - waited < 60, "the run never reached the server"
                    time.sleep(0.1)

            def json_writes() -> None:
                with first.client(token) as api:
                    for i in range(served):
                        answers = [api.post(f"/runs/{run.uuid}/inputs", json={"values": {f"p{i}": i}}),
                                   api.post(f"/runs/{run.uuid}/metrics", json={"points": [
                                       {"name": "loss", "value": float(i), "step": 1000 + i}]})]
                        failures.extend(a.text for a in answers if a.status_code != 200)

            writer = threading.Thread(target=json_writes)
            writer.start()
            for step in range(1, 300):
                run.log_metric("loss", float(step), step=step)
                if step % 20 == 0:
                    run.flush()
                time.sleep(0.01)
            writer.join(120)
        assert not failures, failures[:3]
        for replica in (first, second):
            with replica.client(token) as api:
                series = api.get(f"/runs/{run.uuid}/metrics/series", params={"name": "loss", "points": 10000}).json()
                detail = api.get(f"/runs/{run.uuid}").json()
            assert series["raw"] and sorted(series["x"]) == list(range(300)) + list(range(1000, 1000 + served))
            assert detail["inputs"] == {"client": 1, **{f"p{i}": i for i in range(served)}}
            assert detail["status"] == "succeeded"
    finally:
        first.stop()
        second.stop()


def test_iter_files_after_a_path_lists_exactly_the_files_sorting_after_it(tmp_path):
    """A manifest page lists the files after the cursor's path without looking at the others:
    the same files as filtering the whole list, for every cut point, with folders whose names
    sort around their siblings' ('a' < 'a-b' < 'a.b' < 'a/x' as strings)."""
    from labbook.sync.protocol import iter_files

    for name in ["run.json", "a-b/x", "a.b/y", "a/x", "a/x-1", "a/y/z/w", "a/y/zz", "ab", "b/c/d/e", "outputs/f 1.txt"]:
        path = tmp_path.joinpath(*name.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    every = sorted(rel for rel, _, _ in iter_files(tmp_path))
    assert every == sorted(every) and "a/x" in every
    for after in [None, "", "a", "a-b", "a-b/x", "a.b", "a/", "a/x", "a/x-", "a/y", "a/y/z", "a/yz", "ab", "b", "z", *every]:
        assert sorted(rel for rel, _, _ in iter_files(tmp_path, after)) == \
            [rel for rel in every if after is None or rel > after], after


@pytest.mark.parametrize("edited_server", ["sqlite"], indirect=True)
def test_lineage_written_on_both_sides_is_a_conflict_and_nothing_is_overwritten(home, tmp_path, edited_server):
    """lineage.jsonl is the one append-only file a client and the server may both write (an
    artifact uploaded through /files to a synced run): the client's next append of it is then a
    409 conflict, reported by labbook sync, and neither side's lines are overwritten (a known
    limit, docs/server.md)."""
    import json
    import subprocess

    from labbook.tracking import Run
    from tests.conftest import PYTHON, python_env

    server, token = edited_server
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("first")
    second.write_text("second")
    with Run(project=PROJECT, name="lineage", is_offline=True, **run_kwargs()) as run:
        run.log_artifact(str(first), name="first")
    run.push_offline_run()
    with server.client(token) as api:
        assert api.post(f"/runs/{run.uuid}/files", files={"file": ("c.txt", b"c")},
                        data={"name": "server-side"}).status_code == 200
    with Run(project=PROJECT, run_uuid=run.uuid, is_offline=True, **run_kwargs()) as again:
        again.log_artifact(str(second), name="second")
    done = subprocess.run([PYTHON, "-m", "labbook.cli.main", "sync", "--json", run.uuid], capture_output=True,
                          env=python_env(home, LABBOOK_HOST=server.url, LABBOOK_TOKEN=token), text=True, timeout=120)
    assert done.returncode != 0, done.stdout  # a conflict is reported as a failure
    answer = json.loads(done.stdout)
    assert [c.split(":")[0] for c in answer["runs"][0]["conflicts"]] == ["lineage.jsonl"], answer
    with server.client(token) as api:
        held = api.get(f"/sync/runs/{run.uuid}/bytes", params={"path": "lineage.jsonl"}).text
    assert '"first"' in held and '"server-side"' in held and '"second"' not in held
    local = (run.path / "lineage.jsonl").read_text()
    assert '"first"' in local and '"second"' in local and '"server-side"' not in local


def test_a_runs_resources_file_is_sent_by_offset_and_read_on_the_server(home, tmp_path, edited_server):
    """``resources/<writer>.lbr`` is an append-only file: a push after it grew sends only the new
    records, and the server reads every series of it."""
    from labbook.store import format as fmt
    from labbook.tracking import Run

    server, token = edited_server
    with Run(project=PROJECT, name="sampled", is_offline=True, **run_kwargs(collect_resources=True)) as run:
        pass  # ended before its first sample was due: it takes one at end()
    run.push_offline_run()
    [path] = (run.path / "resources").glob("*.lbr")
    columns = fmt.read_header(path)["columns"]
    with server.client(token) as api:
        names = api.get(f"/runs/{run.uuid}/resources").json()["names"]
        load = api.get(f"/runs/{run.uuid}/resources/series", params={"name": "load.1m"}).json()
    assert names == sorted(columns) and "load.1m" in names
    assert load["raw"] and len(load["y"]) == 1

    sample = fmt.encode_resource_record(1, fmt.to_epoch_us(None), [1.0] * len(columns))
    with open(path, "ab") as handle:  # one more sample, as a run resumed later would append it
        handle.write(sample)
    client = client_for(Settings.load({}))
    try:
        again = RunPusher(client, run.path).push()
    finally:
        client.close()
    assert again.data_bytes == len(sample) and again.files == [f"resources/{path.name}"], again.as_dict()
    with server.client(token) as api:
        load = api.get(f"/runs/{run.uuid}/resources/series", params={"name": "load.1m"}).json()
    assert len(load["y"]) == 2 and load["y"][1] == 1.0
