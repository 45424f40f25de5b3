"""Reads from a labbook server (``LABBOOK_HOST``): the remote half of ``labbook.get_run``,
``labbook.search_runs`` and ``labbook.get_artifact``.

With ``LABBOOK_HOST`` set (and not offline), the module read functions answer from this home
first and from the server for what it lacks:

- ``get_run``: a run this home does not hold is pulled, byte for byte, into
  ``<home>/cache/remote/<server>/`` (only the bytes not fetched before) and read from there;
- ``search_runs``: the server's catalog answers (its keyset pages followed up to ``limit``); each
  row is a ``RemoteRunRow`` whose folder is pulled on first read;
- ``get_artifact``: a version this home lacks is read from the server, its record as stored and
  its bytes cached once.

A ``labbook server`` process is always offline: it reads its own stores, never another server.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labbook._time import parse_time
from labbook.config import Settings
from labbook.errors import InvalidValueError, NotFoundError
from labbook.runs import RemoteRunRow, RunRecord, RunRow
from labbook.store.record import read_run_record

if TYPE_CHECKING:  # pragma: no cover - names for annotations only
    from labbook.artifacts.version import ArtifactVersion


def remote_settings(home: str | Path | None, settings: Settings | None = None) -> Settings | None:
    """The settings when reads go to a server: ``LABBOOK_HOST`` set and not offline
    (``settings``: those of ``home``, when the caller has them already)."""
    settings = settings or Settings.load({}, home=home)
    return settings if settings.host and not settings.offline else None


def remote_cache(settings: Settings) -> Settings:
    """Where runs read from the server are kept: one folder per server under the home's cache."""
    assert settings.host is not None  # callers pass remote_settings()
    slug = hashlib.sha256(settings.host.rstrip("/").encode()).hexdigest()[:16]
    return dataclasses.replace(settings, artifacts_root=str(settings.home / "cache" / "remote" / slug))


def get_run(uuid: str, settings: Settings) -> RunRecord:
    """Run ``uuid`` (its whole uuid) pulled from the server into the home's cache, then read."""
    from labbook.sync.runs import pull_run

    if len(uuid.replace("-", "")) != 32:
        raise NotFoundError(f"No run {uuid!r} in this home; on the server {settings.host} name it by its "
                            "whole uuid (32 hex digits).")
    folder = pull_run(uuid.replace("-", "").lower(), remote_cache(settings), index=False)
    return RunRecord(read_run_record(folder), settings)


def search_runs(settings: Settings, project: str | None, filter: str | None, order_by: list[str] | str | None,
                limit: int | None, offset: int, after: list[Any] | None) -> list[RunRow]:
    """``search_runs`` answered by the server (its keyset pages followed up to ``limit``)."""
    from labbook.sync.runs import client_for

    if offset or after:
        raise InvalidValueError("offset= and after= page the local catalog; against a server (LABBOOK_HOST) "
                                "ask for a larger limit, or page with the REST API's cursor.")
    orders = [order_by] if isinstance(order_by, str) else list(order_by or [])
    params: dict[str, Any] = {"order_by": orders, "limit": min(limit or 1000, 1000)}
    if project:
        params["project"] = project
    if filter:
        params["filter"] = filter
    rows: list[RunRow] = []
    client = client_for(settings)
    try:
        while True:
            page = client.call("GET", "/runs", params=params)
            for item in page["runs"]:
                rows.append(_remote_row(item, settings))
            if not page.get("next_cursor") or (limit is not None and len(rows) >= limit):
                break
            params["cursor"] = page["next_cursor"]
    finally:
        client.close()
    return rows[:limit] if limit is not None else rows


def _remote_row(item: dict[str, Any], settings: Settings) -> RunRow:
    row = {**item, "metrics": {name: {**summary, "last_timestamp": parse_time(summary.get("last_timestamp"))}
                               for name, summary in (item.get("metrics") or {}).items()},
           "path": str(Path(remote_cache(settings).artifacts_root) / item["project"] / item["uuid"]),
           "heartbeat_at": None}
    for key in ("created_at", "started_at", "finished_at"):
        row[key] = parse_time(item.get(key))
    made = RemoteRunRow(row, settings)
    made.status = item["status"]  # as the server computed it (liveness included)
    return made


def get_artifact(uri: str, settings: Settings) -> ArtifactVersion:
    """The version ``uri`` names, read from the server: its record as stored, and its bytes
    (a file) fetched into the home's cache once."""
    from urllib.parse import urlencode

    from labbook.artifacts.version import ArtifactVersion
    from labbook.store.blobs import ArtifactStore
    from labbook.store.files import write_atomic
    from labbook.store.policy import store_root
    from labbook.sync.runs import client_for

    cache = dataclasses.replace(remote_cache(settings), artifact_store=None, artifact_path=None)
    client = client_for(settings)
    try:
        answer = client.call("GET", "/sync/artifacts/record", params={"uri": uri})
        record = answer["record"]
        version = ArtifactVersion(record, answer["tags"], settings=cache)
        if record.get("blob") and not record.get("is_dir"):
            record.pop("blob_stat", None)  # the cached copy is another file
            path = Path(ArtifactStore(store_root(cache)).project_dir(record["project"])) / record["blob"]
            if not path.is_file():
                data = client.download(f"/artifacts/download?{urlencode({'uri': version.uri})}")
                path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(path, data, durable=False)
        return version
    finally:
        client.close()
