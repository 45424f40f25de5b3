"""Artifact changes made outside a run's folder (tag moves, untags, deletions), sent to a server.

With ``LABBOOK_HOST`` set, ``labbook.tag_artifact``, ``untag_artifact`` and ``delete_artifact``
change this home as always, then make the same change on the server through its REST routes
(``POST /artifacts/tags``, ``DELETE /artifacts/tags``, ``DELETE /artifacts``), authenticated with
``LABBOOK_TOKEN`` and retried with backoff for up to ``sync_timeout`` seconds. A version is named
by its pinned URI (``store://…@uid``): it has the same uid on both sides.

A change the server cannot take now (it does not answer, or it does not hold the version yet:
a run whose versions are still being sent) is kept, in order, in ``<home>/sync/changes.jsonl``;
``labbook sync`` (and the syncer's last pass at a run's end) sends what is kept, oldest first,
before anything newer. A change the server refuses for good (a token without the scope, say) is
reported and dropped: it can never succeed as it is.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from labbook.config import Settings
from labbook.errors import LabbookError, NotFoundError, SyncUnavailableError

CHANGES_FILE = "sync/changes.jsonl"
OPS = ("tag", "untag", "delete")


def changes_path(settings: Settings) -> Path:
    return Path(settings.home) / CHANGES_FILE


def pending(settings: Settings) -> list[dict[str, Any]]:
    """The changes kept for ``settings.host``, oldest first."""
    return [c for c in _all(settings) if c.get("host") == _host(settings)]


def send_change(settings: Settings, op: str, uri: str, **fields: Any) -> bool:
    """Make one change on the server now (after any kept before it); True when the server has
    it, False when it is kept for ``labbook sync`` (a line on stderr says so)."""
    change = {"op": op, "uri": uri, "host": _host(settings), **fields}
    with _lock(settings):
        _write(settings, [*_all(settings), change])
    outcome = flush(settings)
    if outcome["pending"]:
        print(f"labbook: the server {settings.host} has not taken {outcome['pending']} artifact change(s) yet "
              f"({outcome['reason']}); they are kept in {changes_path(settings)} and 'labbook sync' sends them.",
              file=sys.stderr)
    return not outcome["pending"]


def flush(settings: Settings, client: Any = None) -> dict[str, Any]:
    """Send the kept changes, oldest first, stopping at the first the server cannot take now.
    Returns ``{"sent", "pending", "dropped": [messages], "reason"}``."""
    from labbook.sync.runs import client_for

    result: dict[str, Any] = {"sent": 0, "pending": 0, "dropped": [], "reason": None}
    with _lock(settings):
        everything = _all(settings)
        mine = [c for c in everything if c.get("host") == _host(settings)]
        if not mine:
            return result
        own = client is None
        client = client or client_for(settings)
        deadline = time.monotonic() + max(settings.sync_timeout, 1.0)
        done: list[dict[str, Any]] = []
        try:
            for change in mine:
                try:
                    _apply(client, change, deadline)
                    result["sent"] += 1
                except (SyncUnavailableError, NotFoundError) as error:
                    result["reason"] = str(error)
                    break
                except LabbookError as error:  # refused for good: reported, dropped
                    result["dropped"].append(f"{change['op']} {change['uri']}: {error}")
                    print(f"labbook: the server refused an artifact change, dropped: {error}", file=sys.stderr)
                done.append(change)
        finally:
            if own:
                client.close()
        left = [c for c in everything if not any(c is d for d in done)]
        _write(settings, left)
        result["pending"] = sum(1 for c in left if c.get("host") == _host(settings))
    return result


def _apply(client: Any, change: dict[str, Any], deadline: float) -> None:
    op, uri = change["op"], change["uri"]
    if op == "tag":
        client.call("POST", "/artifacts/tags", json={"uri": uri, "tag": change["tag"]}, deadline=deadline)
    elif op == "untag":
        try:
            client.call("DELETE", "/artifacts/tags", params={"uri": uri, "tag": change["tag"]}, deadline=deadline,
                        raw=True)
        except NotFoundError as error:
            if "has no tag" not in str(error):  # already gone there: done
                raise
    else:
        client.call("DELETE", "/artifacts", deadline=deadline,
                    params={"uri": uri, "all_versions": bool(change.get("all_versions")),
                            "data": bool(change.get("data"))})


def _host(settings: Settings) -> str:
    return (settings.host or "").rstrip("/")


def _all(settings: Settings) -> list[dict[str, Any]]:
    path = changes_path(settings)
    if not path.is_file():
        return []
    found = []
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("op") in OPS:
            found.append(entry)
    return found


def _write(settings: Settings, changes: list[dict[str, Any]]) -> None:
    from labbook.store.files import write_atomic

    path = changes_path(settings)
    if not changes:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, "".join(json.dumps(c, sort_keys=True) + "\n" for c in changes).encode(), durable=True)


def _lock(settings: Settings) -> Any:
    from labbook.store.files import file_lock

    path = changes_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    return file_lock(path.with_name(path.name + ".lock"))
