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
    bases = _base_files(tmp_path, run.uuid)
    assert len(bases) == 1
    bases[0].unlink()  # as a server older than bases left it
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
