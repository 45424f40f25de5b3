"""Reads from a labbook server (``LABBOOK_HOST``): the remote half of the module read functions.

With ``LABBOOK_HOST`` set (and not offline), every module read function answers from the server
(``get_run`` and ``get_artifact`` from this home first: a live run reads what it wrote):

- ``get_run``: a run this home does not hold is pulled, byte for byte, into
  ``<home>/cache/remote/<server>/`` (only the bytes not fetched before) and read from there;
- ``search_runs`` / ``list_runs``: the server's catalog answers (every keyset page followed up to
  ``limit``; ``limit=None``: every matching run); each row is a ``RemoteRunRow`` whose folder is
  pulled on first read;
- ``get_artifact``: a version this home lacks is read from the server, its record as stored and
  its bytes cached once;
- ``list_artifacts``: the server's versions as ``RemoteArtifactVersion`` (an ``ArtifactVersion``
  whose bytes are fetched into the cache on first read);
- ``get_lineage``: the server's graph, as the same ``LineageGraph``;
- ``list_projects``: the server's projects, as ``ProjectSummary``.

A ``labbook server`` process is always offline: it reads its own stores, never another server.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labbook._time import parse_time
from labbook.config import Settings
from labbook.errors import InvalidValueError, NotFoundError
from labbook.runs import ProjectSummary, RemoteRunRow, RunRecord, RunRow
from labbook.store.record import read_run_record

if TYPE_CHECKING:  # pragma: no cover - names for annotations only
    from labbook.artifacts.graph import LineageGraph
    from labbook.artifacts.version import ArtifactVersion

PAGE_SIZE = 1000  # rows asked of the server per request (its most)
MAX_DEPTH = 10  # hops a server's lineage route follows at most


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

    if after:
        raise InvalidValueError("after= pages the local catalog; against a server (LABBOOK_HOST) pass "
                                "limit=None for every matching run, or offset= to skip the first ones.")
    _check_page(limit, offset)
    orders = [order_by] if isinstance(order_by, str) else list(order_by or [])
    params: dict[str, Any] = {"order_by": orders}
    if project:
        params["project"] = project
    if filter:
        params["filter"] = filter
    items = _pages(settings, "/runs", "runs", params, limit, offset)
    return [_remote_row(item, settings) for item in items]


def _check_page(limit: int | None, offset: int) -> None:
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise InvalidValueError(f"limit={limit!r}; pass a whole number >= 0, or None for every match.")
    if not isinstance(offset, int) or offset < 0:
        raise InvalidValueError(f"offset={offset!r}; pass a whole number >= 0.")


def _pages(settings: Settings, route: str, field: str, params: dict[str, Any], limit: int | None,
           offset: int) -> list[dict[str, Any]]:
    """Rows ``[offset, offset + limit)`` of a paged route, following its keyset cursor (the
    server's order and filter, page after page; ``limit=None``: to the last page)."""
    from labbook.sync.runs import client_for

    wanted = None if limit is None else offset + limit
    rows: list[dict[str, Any]] = []
    if wanted == 0:
        return rows
    client = client_for(settings)
    try:
        params = dict(params)
        while True:
            params["limit"] = PAGE_SIZE if wanted is None else max(1, min(wanted - len(rows), PAGE_SIZE))
            page = client.call("GET", route, params=params)
            rows.extend(page[field])
            if not page.get("next_cursor") or (wanted is not None and len(rows) >= wanted):
                break
            params["cursor"] = page["next_cursor"]
    finally:
        client.close()
    return rows[offset:wanted]


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
    from labbook.artifacts.version import ArtifactVersion

    answer = _call(settings, "GET", "/sync/artifacts/record", params={"uri": uri})
    version = ArtifactVersion(answer["record"], answer["tags"], settings=_artifact_cache(settings))
    _fetch_bytes(version, settings)
    return version


def _call(settings: Settings, method: str, route: str, **kwargs: Any) -> Any:
    from labbook.sync.runs import client_for

    client = client_for(settings)
    try:
        return client.call(method, route, **kwargs)
    finally:
        client.close()


def list_projects(settings: Settings) -> list[ProjectSummary]:
    """The server's projects, by name."""
    answer = _call(settings, "GET", "/projects")
    return [ProjectSummary(p["name"], p["run_count"], parse_time(p.get("created_at")),
                           parse_time(p.get("last_activity"))) for p in answer["projects"]]


def list_artifacts(settings: Settings, project: str | None, kind: Any, key: str | None, labels: Any,
                   tag: str | None, producer: str | None, since: Any, until: Any, *, latest_only: bool,
                   limit: int | None, offset: int, after: Any) -> list[ArtifactVersion]:
    """``list_artifacts`` answered by the server: the same filters, order and ``ArtifactVersion``
    (a ``RemoteArtifactVersion``: its bytes are fetched into the home's cache when first read)."""
    if after is not None:
        raise InvalidValueError("after= pages the local catalog; against a server (LABBOOK_HOST) pass "
                                "limit=None for every matching version, or offset= to skip the first ones.")
    _check_page(limit, offset)
    params: dict[str, Any] = {"records": "true", "latest_only": "true" if latest_only else "false"}
    if kind is not None:
        kinds = [kind] if isinstance(kind, str) or not hasattr(kind, "__iter__") else list(kind)
        if len(kinds) != 1:
            raise InvalidValueError(f"kind={kind!r}: a server filters on one kind (or store prefix) at a time; "
                                    "call list_artifacts once per kind.")
        params["kind"] = str(getattr(kinds[0], "value", kinds[0]))
    if key is not None:
        params["q" if key.startswith("~") else "key"] = key[1:] if key.startswith("~") else key
    label_items = _label_items(labels)
    if label_items:
        params["label"] = label_items
    for name, value in (("project", project), ("tag", tag), ("producer", producer),
                        ("created_after", since), ("created_before", until)):
        if value is not None:
            params[name] = value.isoformat() if hasattr(value, "isoformat") else str(value)
    items = _pages(settings, "/artifacts", "artifacts", params, limit, offset)
    cache = _artifact_cache(settings)
    made = _remote_version_class()
    return [made(item["record"], item["tags"], settings=cache, remote=settings) for item in items]


def _label_items(labels: Any) -> list[str]:
    if labels is None:
        return []
    if isinstance(labels, dict):
        return [name if value is None else f"{name}={value}" for name, value in labels.items()]
    items = [labels] if isinstance(labels, str) else list(labels)
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def get_lineage(settings: Settings, start: Any, direction: str, depth: int | None) -> LineageGraph:
    """``get_lineage`` answered by the server: the same ``LineageGraph`` (reference nodes carry
    the name, kind and summary their run logged). A server follows at most ``MAX_DEPTH`` hops."""
    from labbook.artifacts.graph import LineageEdge, LineageGraph, LineageNode

    if direction not in ("up", "down", "both"):
        raise InvalidValueError(f"direction={direction!r}; use 'up', 'down' or 'both'.")
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or not 0 <= depth <= MAX_DEPTH):
        raise InvalidValueError(f"depth={depth!r}: a server follows 0 to {MAX_DEPTH} hops; pass one of those "
                                f"(or None for {MAX_DEPTH}).")
    if hasattr(start, "uid") and hasattr(start, "key"):
        params = {"uri": start.uri}
    elif getattr(start, "uuid", None):
        params = {"run": start.uuid}
    elif isinstance(start, str):
        params = {"uri": start} if start.startswith("store://") else {"run": start.replace("-", "").lower()}
    else:
        raise InvalidValueError(f"get_lineage() takes a store URI, a run uuid or a run/version object; "
                                f"got {start!r:.60}.")
    answer = _call(settings, "GET", "/lineage",
                   params={**params, "direction": direction, "depth": MAX_DEPTH if depth is None else depth})
    nodes = {n["id"]: LineageNode(n["id"], n["type"], n["label"], n["data"]) for n in answer["nodes"]}
    edges = [LineageEdge(e["source"], e["target"], e["relation"]) for e in answer["edges"]]
    return LineageGraph(answer["root"], nodes, edges)


def _version(settings: Settings, item: dict[str, Any]) -> ArtifactVersion:
    answer = _call(settings, "GET", "/sync/artifacts/record", params={"uri": item["uri"]})
    return _remote_version_class()(answer["record"], answer["tags"], settings=_artifact_cache(settings),
                                   remote=settings)


def tag_artifact(settings: Settings, uri: str, tag: str) -> ArtifactVersion:
    """Tag a version only the server holds (``POST /artifacts/tags``, retried)."""
    return _version(settings, _call(settings, "POST", "/artifacts/tags", json={"uri": uri, "tag": tag}))


def untag_artifact(settings: Settings, uri: str, tag: str) -> None:
    _call(settings, "DELETE", "/artifacts/tags", params={"uri": uri, "tag": tag}, raw=True)  # 204: no body


def delete_artifact(settings: Settings, uri: str, all_versions: bool, data: bool) -> list[ArtifactVersion]:
    """Delete versions only the server holds (``DELETE /artifacts``: an admin token)."""
    answer = _call(settings, "DELETE", "/artifacts", params={"uri": uri, "all_versions": all_versions, "data": data})
    cache = _artifact_cache(settings)
    made = _remote_version_class()
    return [made({**_record_of(item), "blob": None}, item["tags"], settings=cache, remote=settings)
            for item in answer["deleted"]]


def _record_of(item: dict[str, Any]) -> dict[str, Any]:
    """A version record rebuilt from the REST shape (for versions the server no longer has)."""
    keep = ("project", "key", "kind", "uid", "hash", "size", "is_dir", "format", "labels", "summary", "meta",
            "producer", "sources", "links", "description", "created_at")
    return {**{k: item.get(k) for k in keep}, "number": item["version"]}


def _artifact_cache(settings: Settings) -> Settings:
    return dataclasses.replace(remote_cache(settings), artifact_store=None, artifact_path=None)


def _fetch_bytes(version: ArtifactVersion, settings: Settings) -> None:
    """Download a file version's bytes into the cache it is read from (once)."""
    from urllib.parse import urlencode

    from labbook.store.blobs import ArtifactStore
    from labbook.store.files import write_atomic
    from labbook.store.policy import store_root
    from labbook.sync.runs import client_for

    record = version.record
    if not record.get("blob") or record.get("url"):
        return
    record.pop("blob_stat", None)  # the cached copy is another file
    path = Path(ArtifactStore(store_root(version._settings)).project_dir(record["project"])) / record["blob"]
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    client = client_for(settings)
    try:
        if not record.get("is_dir"):
            write_atomic(path, client.download(f"/artifacts/download?{urlencode({'uri': version.uri})}"),
                         durable=False)
            return
        # a directory: each of its files, into a folder renamed into place once whole
        from labbook.store.files import temporary_name
        from labbook.store.layout import safe_join

        listed = client.call("GET", "/artifacts/files", params={"uri": version.uri})["files"]
        partial = temporary_name(path)
        for item in listed:
            target = safe_join(partial, item["path"], "file in the artifact")
            target.parent.mkdir(parents=True, exist_ok=True)
            query = urlencode({"uri": version.uri, "path": item["path"]})
            write_atomic(target, client.download(f"/artifacts/download?{query}"), durable=False)
        partial.mkdir(exist_ok=True)  # an empty directory version
        try:
            os.rename(partial, path)
        except OSError:
            if not path.is_dir():  # else another reader put it there first
                raise
    finally:
        client.close()


@functools.cache
def _remote_version_class() -> Any:
    from labbook.artifacts.version import ArtifactVersion

    class RemoteArtifactVersion(ArtifactVersion):
        """An ``ArtifactVersion`` listed by a server: its bytes are fetched on first read."""

        def __init__(self, record: dict[str, Any], tags: list[str] | None = None, *, settings: Any,
                     remote: Settings) -> None:
            super().__init__(record, tags, settings=settings)
            self._remote = remote

        def _readable(self) -> str:
            _fetch_bytes(self, self._remote)
            return super()._readable()

    return RemoteArtifactVersion


def __getattr__(name: str) -> Any:
    if name == "RemoteArtifactVersion":  # made on first use: importing this module loads no artifacts code
        return _remote_version_class()
    raise AttributeError(name)
