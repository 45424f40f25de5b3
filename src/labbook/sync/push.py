"""Shipping one run folder to a server: only what the server does not hold.

``RunPusher(client, folder).push()`` makes one pass (see ``labbook.sync.protocol`` for how each
file travels). It starts from the server's own account of the run (its manifest), then keeps
that account up to date from the answers, so a pass while a run runs costs one request per
file that grew. After a conflict or an unreachable server it asks again before the next pass.

Artifact versions the run logged (``lineage.jsonl`` records with a uid) are sent as their
version records, with their bytes as blobs, so they become versions on the server; a directory
version's files go one blob each, with the map of its files (path -> hash) beside its record.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from labbook.errors import LabbookError, SyncConflictError
from labbook.store.hashing import FileHashes
from labbook.store.layout import LINEAGE_FILE, RUN_FILE
from labbook.store.runfile import replace_run_file
from labbook.sync.client import SyncClient
from labbook.sync.protocol import APPEND, BLOB, PART_SIZE, REPLACE, iter_files, sha256_bytes, sha256_file

LINK_BATCH = 500


@dataclass
class PushResult:
    """What one pass did: ``data_bytes`` of file contents sent, ``requests`` made, the files
    sent, and ``conflicts`` (files the server holds differently: left as they are)."""

    uuid: str
    data_bytes: int = 0
    requests: int = 0
    files: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    merged: bool = False  # run.json came back merged with edits made on the server

    def as_dict(self) -> dict[str, Any]:
        return {"run": self.uuid, "data_bytes": self.data_bytes, "requests": self.requests,
                "files": len(self.files), "versions": len(self.versions), "conflicts": self.conflicts,
                "merged": self.merged}


class RunPusher:
    """One run folder and what one server holds of it (see the module docstring).

    ``artifact_records(lineage_record) -> (version record, path of its bytes) | None`` finds the
    local version record of an artifact the run logged (injected: sync knows no artifact store).
    """

    def __init__(self, client: SyncClient, folder: str | os.PathLike[str],
                 artifact_records: Callable[[dict[str, Any]], tuple[dict[str, Any], Path] | None] | None = None
                 ) -> None:
        self.client = client
        self.folder = Path(folder)
        self.uuid = self.folder.name
        self.project = self.folder.parent.name
        self.artifact_records = artifact_records
        self._server: dict[str, dict[str, Any]] | None = None  # path -> {mode, size, sha256}
        self._hashes = FileHashes()
        self._versions_sent: set[str] = set()
        self._lineage_seen = 0

    def push(self, deadline: float | None = None) -> PushResult:
        """One pass: send what the server lacks. Raises ``SyncUnavailableError`` when the server
        cannot be reached before ``deadline``; a conflict is reported in the result."""
        before = (self.client.data_bytes, self.client.requests)
        result = PushResult(self.uuid)
        try:
            self._push(result, deadline)
        except BaseException:
            self._server = None  # ask the server again next time
            raise
        finally:
            result.data_bytes = self.client.data_bytes - before[0]
            result.requests = self.client.requests - before[1]
        return result

    def _push(self, result: PushResult, deadline: float | None) -> None:
        run_url = f"/sync/runs/{self.uuid}"
        if self._server is None:
            answer = self.client.manifest(self.uuid, deadline=deadline, ok_missing=True)
            if answer is None:
                run_json = (self.folder / RUN_FILE).read_text()
                answer = self.client.manifest(self.uuid, deadline=deadline, first=self.client.call(
                    "PUT", run_url, deadline=deadline, json={"project": self.project, "run_json": run_json}))
            assert answer is not None  # a page given as first is never None
            self._server = dict(answer["files"])
        server = self._server
        # Records that describe the data (run.json, summaries) are read first and sent last: a
        # summary never reaches the server ahead of the points it counts (the writer writes
        # points before summaries, so every byte a snapshot counts is in the files by now).
        files = list(iter_files(self.folder))
        replaced = []
        for rel, path, mode in files:
            if mode == REPLACE:
                try:
                    replaced.append((rel, path.read_bytes()))
                except FileNotFoundError:
                    pass
        blobs = {}
        for rel, path, mode in files:
            held = server.get(rel)
            if mode == APPEND:
                self._append(rel, path, held, result, deadline)
            elif mode == BLOB:
                digest = self._hashes.sha256(path)
                if held is None or held.get("sha256") != digest:
                    blobs[rel] = digest
        if blobs:
            self._send_blobs(blobs, result, deadline)
        self._send_versions(result, deadline)
        if result.conflicts:
            return  # the records describe data the server does not hold as it should: not sent
        for rel, data in sorted(replaced, key=lambda item: item[0] == RUN_FILE):  # run.json last
            digest = sha256_bytes(data)
            held = server.get(rel)
            if held is None or held.get("sha256") != digest:
                answer = self.client.call("PUT", f"{run_url}/file", params={"path": rel}, data=data,
                                          deadline=deadline)
                server[rel] = {"mode": REPLACE, "size": len(data), "sha256": digest}
                result.files.append(rel)
                if rel == RUN_FILE and answer.get("merged") is not None:
                    self._take_merged(answer["merged"].encode(), data, result, deadline)

    def _take_merged(self, merged: bytes, sent: bytes, result: PushResult, deadline: float | None) -> None:
        """The server merged the run.json sent with edits made there (``labbook.sync.merge``):
        the run folder takes the merged one, unless its writer changed run.json meanwhile (then
        the next pass sends that, and the server merges again). Sent back once, it becomes the
        server's base, so what the client changes next is measured from it."""
        digest = sha256_bytes(merged)
        self._server[RUN_FILE] = {"mode": REPLACE, "size": len(merged), "sha256": digest}
        if replace_run_file(self.folder / RUN_FILE, merged, expected=sent):
            self.client.call("PUT", f"/sync/runs/{self.uuid}/file", params={"path": RUN_FILE}, data=merged,
                             deadline=deadline)
            result.merged = True

    def _append(self, rel: str, path: Path, held: dict | None, result: PushResult, deadline: float | None) -> None:
        committed = held["size"] if held else 0
        size = path.stat().st_size
        if size <= committed:
            if size < committed:
                result.conflicts.append(f"{rel}: the server holds {committed} bytes, the run folder {size}")
            return
        with open(path, "rb") as handle:
            while committed < size:
                handle.seek(committed)
                data = handle.read(min(PART_SIZE, size - committed))
                if not data:
                    break
                try:
                    answer = self.client.call("POST", f"/sync/runs/{self.uuid}/append", deadline=deadline,
                                              params={"path": rel, "offset": committed}, data=data)
                except SyncConflictError as error:
                    result.conflicts.append(str(error))
                    self._server = None
                    return
                committed = answer["committed"]
                self._server[rel] = {"mode": APPEND, "size": committed, "sha256": None}
        result.files.append(rel)

    def _send_blobs(self, files: dict[str, str], result: PushResult, deadline: float | None) -> None:
        """Upload the blobs the server lacks, then link each file to its blob."""
        sources: dict[str, Path] = {}
        for rel, digest in files.items():
            sources.setdefault(digest, self.folder / rel)
        self.upload(sources, deadline)
        items = list(files.items())
        for start in range(0, len(items), LINK_BATCH):
            batch = dict(items[start:start + LINK_BATCH])
            answer = self.client.call("POST", f"/sync/runs/{self.uuid}/link", json={"files": batch},
                                      deadline=deadline)
            if answer["missing"]:  # removed meanwhile (never, unless someone cleans the server)
                self.upload({h: sources[h] for h in answer["missing"]}, deadline, known_missing=True)
                self.client.call("POST", f"/sync/runs/{self.uuid}/link", json={"files": batch}, deadline=deadline)
            for rel, digest in batch.items():
                self._server[rel] = {"mode": BLOB, "size": (self.folder / rel).stat().st_size, "sha256": digest}
                result.files.append(rel)

    def upload(self, sources: dict[str, Path], deadline: float | None, known_missing: bool = False) -> None:
        """Send each blob (hash -> local file) the server does not hold, in resumable parts."""
        hashes = list(sources)
        missing: list[str] = []
        if known_missing:
            missing = hashes
        else:
            for start in range(0, len(hashes), LINK_BATCH):
                answer = self.client.call("POST", "/sync/blobs/missing", json={"hashes": hashes[start:start + LINK_BATCH]},
                                          deadline=deadline)
                missing += answer["hashes"]
        for digest in missing:
            path = sources[digest]
            size = path.stat().st_size
            state = self.client.call("GET", f"/sync/blobs/{digest}/upload", deadline=deadline)
            offset = state["committed"] if not state["complete"] else size
            with open(path, "rb") as handle:
                while offset < size or (size == 0 and not state["complete"]):
                    handle.seek(offset)
                    data = handle.read(min(PART_SIZE, size - offset))
                    state = self.client.call("PUT", f"/sync/blobs/{digest}", params={"offset": offset, "size": size},
                                             data=data, deadline=deadline)
                    offset = state["committed"]
                    if state["complete"]:
                        break

    def _send_versions(self, result: PushResult, deadline: float | None) -> None:
        if self.artifact_records is None:
            return
        lineage = self.folder / LINEAGE_FILE
        if not lineage.is_file() or lineage.stat().st_size == self._lineage_seen:
            return
        data = lineage.read_bytes()
        records, sources = [], {}
        dir_files: dict[str, dict[str, str]] = {}
        for line in data.split(b"\n")[:-1]:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not isinstance(entry, dict) or entry.get("is_input") or not entry.get("uid") \
                    or entry["uid"] in self._versions_sent:
                continue
            found = self.artifact_records(entry)
            if found is None:
                continue
            records.append(found[0])
            if found[0].get("is_dir"):
                tree = dir_files[found[0]["uid"]] = {}
                for path in sorted(p for p in found[1].rglob("*") if p.is_file() and not p.is_symlink()):
                    digest = sha256_file(path)
                    tree[path.relative_to(found[1]).as_posix()] = digest
                    sources[digest] = path
            else:
                sources[found[0]["hash"]] = found[1]
        if records:
            self.upload(sources, deadline)
            answer = self.client.call("POST", f"/sync/runs/{self.uuid}/artifacts", deadline=deadline,
                                      json={"versions": records, "dir_files": dir_files})
            if answer["missing"]:
                raise LabbookError(f"The server still lacks the bytes of {len(answer['missing'])} artifact "
                                   "version(s) after they were sent; the next pass sends them again.")
            for uid in answer["imported"] + answer["existing"]:
                self._versions_sent.add(uid)
                result.versions.append(uid)
        self._lineage_seen = len(data)

