"""The one cache of local files' SHA-256 (``labbook.store.hashing.FileHashes``), and its two users:
a client's ``labbook.sync.push.RunPusher`` and the server's ``labbook.server.stored.StoredRuns``.

A file is hashed again unless its inode, size and modification time all match what was hashed,
and never trusted from the cache while its modification time is within ``RACY_SECONDS`` of the
moment it was hashed (git's racy rule): a rewrite of the same size within one tick of the file
system's clock leaves the three unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid as uuid_module
from pathlib import Path

import pytest

from labbook.store.hashing import RACY_SECONDS, FileHashes


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rewrite_in_the_same_tick(path: Path, data: bytes) -> None:
    """Rewrite ``path`` in place with bytes of the same size, its mtime put back as it was."""
    before = path.stat()
    assert len(data) == before.st_size
    with open(path, "r+b") as handle:
        handle.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)


def test_a_same_size_rewrite_within_one_tick_is_hashed_again(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"first version")
    hashes = FileHashes()
    assert hashes.sha256(path) == _sha(b"first version")
    _rewrite_in_the_same_tick(path, b"other version")
    assert hashes.sha256(path) == _sha(b"other version")


def test_an_atomic_rewrite_with_the_old_mtime_is_told_apart_by_its_inode(tmp_path):
    path = tmp_path / "record.json"
    path.write_bytes(b'{"a": 1}')
    old = time.time() - 10 * RACY_SECONDS  # settled: the cache trusts it
    os.utime(path, (old, old))
    hashes = FileHashes()
    assert hashes.sha256(path) == _sha(b'{"a": 1}')
    mtime_ns = path.stat().st_mtime_ns
    spare = tmp_path / "record.json.new"
    spare.write_bytes(b'{"a": 2}')
    os.utime(spare, ns=(mtime_ns, mtime_ns))
    os.replace(spare, path)  # same size, same mtime: only the inode differs
    assert hashes.sha256(path) == _sha(b'{"a": 2}')


def test_a_settled_file_is_hashed_once_and_a_recent_one_each_time(tmp_path):
    settled, recent = tmp_path / "settled.bin", tmp_path / "recent.bin"
    settled.write_bytes(b"x" * 1000)
    recent.write_bytes(b"y" * 1000)
    old = time.time() - 10 * RACY_SECONDS
    os.utime(settled, (old, old))
    hashes = FileHashes()
    for _ in range(3):
        assert hashes.sha256(settled) == _sha(b"x" * 1000)
        assert hashes.sha256(recent) == _sha(b"y" * 1000)
    assert hashes.hashed == 1 + 3  # the settled file once; the recent one every time (racy)


def test_the_cache_keeps_at_most_its_limit_of_files(tmp_path):
    hashes = FileHashes(limit=4)
    old = time.time() - 10 * RACY_SECONDS
    for i in range(10):
        path = tmp_path / f"f{i}"
        path.write_bytes(b"%d" % i)
        os.utime(path, (old, old))
        assert hashes.sha256(path) == _sha(b"%d" % i)
    assert len(hashes) <= 4


def test_stored_runs_push_a_same_size_rewrite_made_within_one_tick(tmp_path):
    """The server's push of a JSON write: an output rewritten with bytes of the same size within
    one tick reaches the store (the cache does not answer the old hash)."""
    from labbook.catalog.catalog import Catalog
    from labbook.catalog.chunks import ChunkedFiles
    from labbook.server.stored import StoredRuns

    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    try:
        stored = StoredRuns(ChunkedFiles(str(tmp_path / "objects"), catalog), tmp_path / "cache")
        uuid = uuid_module.uuid4().hex
        folder = tmp_path / "cache" / "demo" / uuid
        (folder / "outputs").mkdir(parents=True)
        (folder / "run.json").write_text(json.dumps({"uuid": uuid, "project": "demo"}))
        report = folder / "outputs" / "report.txt"
        report.write_bytes(b"first version")
        with stored.write_lock(uuid):
            stored.push("demo", uuid)
        assert stored.rows(uuid)["outputs/report.txt"]["sha256"] == _sha(b"first version")
        _rewrite_in_the_same_tick(report, b"other version")
        with stored.write_lock(uuid):
            stored.push("demo", uuid)
        assert stored.rows(uuid)["outputs/report.txt"]["sha256"] == _sha(b"other version")
    finally:
        catalog.close()


@pytest.mark.timeout(180)
def test_labbook_sync_sends_a_same_size_rewrite_made_within_one_tick(home, tmp_path):
    """A client's second pass sends an output rewritten with bytes of the same size within one tick."""
    from labbook.sync.client import SyncClient
    from labbook.sync.push import RunPusher
    from tests.server_helpers import PROJECT, ServerProcess
    from tests.test_sync import write_token

    server_home = tmp_path / "server" / ".labbook"
    server = ServerProcess(server_home)
    token = write_token(server_home, {})
    uuid = uuid_module.uuid4().hex
    folder = tmp_path / "runs" / PROJECT / uuid
    (folder / "outputs").mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"format": "labbook.run", "uuid": uuid, "project": PROJECT,
                                                 "status": "running", "created_at": "2026-12-01T06:00:00+00:00"}))
    report = folder / "outputs" / "report.txt"
    report.write_bytes(b"first version")
    client = SyncClient(server.url, token)
    try:
        pusher = RunPusher(client, folder)
        pusher.push()
        _rewrite_in_the_same_tick(report, b"other version")
        pusher.push()
        with server.client(token) as api:
            held = api.get(f"/sync/runs/{uuid}").json()["files"]
        assert held["outputs/report.txt"]["sha256"] == _sha(b"other version")
    finally:
        client.close()
        server.stop()
