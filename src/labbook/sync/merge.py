"""run.json edited on both sides: a three-way merge, field by field.

run.json travels as a replaced-whole record (``labbook.sync.protocol``), but a server lets users
edit a synced run too (tags from the dashboard, name, description, inputs, outputs, status through
the write routes). So the server keeps, per synced run, the run.json its client last sent (the
*base*). When the client sends a new one and the server's current run.json is not the base, the
two are merged against it, one rule per field (``FIELD_RULES``):

- ``take``: a field only the server changed keeps the server's value; otherwise (only the client
  changed it, or both did) the client's, whose writer owns status, times, heartbeat and the rest;
- ``keys``: a dict merged key by key by the same rule (inputs, outputs, meta);
- ``set``: tags: the client's, plus those the server added, minus those the server removed;
- ``log``: status conditions: the client's, plus the entries the server appended;
- ``client``: identity fields, never edited anywhere: the client's.

Fields not in the table (a newer writer's) follow ``take``. Merging is idempotent: sending the
same run.json again, or the merged one, merges to the same record.
"""

from __future__ import annotations

from typing import Any

import orjson

TAKE, KEYS, SET, LOG, CLIENT = "take", "keys", "set", "log", "client"
FIELD_RULES: dict[str, str] = {
    "format": CLIENT, "version": CLIENT, "uuid": CLIENT, "project": CLIENT, "created_at": CLIENT,
    "tags": SET,
    "status_conditions": LOG,
    "inputs": KEYS, "outputs": KEYS, "meta": KEYS,
    # the rest ("take"): name, description, readme, owner, status, started_at, finished_at,
    # duration, heartbeat_at, liveness, code, env, dropped, ...
}
_ABSENT: Any = object()


def merge_run_records(base: dict[str, Any], server: dict[str, Any], client: dict[str, Any]) -> dict[str, Any]:
    """The run record holding the client's changes since ``base`` and the server's (see above)."""
    return _merge_keys(base, server, client, FIELD_RULES)


def _merge_keys(base: dict[str, Any], server: dict[str, Any], client: dict[str, Any],
                rules: dict[str, str]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for key in dict.fromkeys([*client, *server]):
        value = _merge_field(rules.get(key, TAKE), base.get(key, _ABSENT), server.get(key, _ABSENT),
                             client.get(key, _ABSENT))
        if value is not _ABSENT:  # a key one side removed (and the other left as it was) stays removed
            merged[key] = value
    return merged


def _merge_field(rule: str, base: Any, server: Any, client: Any) -> Any:
    if rule == CLIENT or server == base:
        return client
    if client == base:
        return server
    if rule == KEYS and all(isinstance(v, dict) for v in (base, server, client)):
        return _merge_keys(base, server, client, {})
    if rule == SET and all(isinstance(v, list) for v in (base, server, client)):
        added = [t for t in server if t not in base]
        return [t for t in dict.fromkeys([*client, *added]) if t in server or t not in base]
    if rule == LOG and all(isinstance(v, list) for v in (base, server, client)):
        return client + [e for e in server if e not in base and e not in client]
    return client


def merge_run_json(base: bytes | None, server: bytes | None, client: bytes) -> bytes:
    """What run.json becomes on the server when ``client`` arrives: ``client`` itself unless the
    server's current run.json (``server``) was edited since the base; then the merged record
    (the server's bytes when the merge changes nothing there, so a resend rewrites nothing)."""
    if base is None or server is None or server == base or server == client:
        return client
    try:
        records = [orjson.loads(data) for data in (base, server, client)]
    except orjson.JSONDecodeError:
        return client
    if not all(isinstance(r, dict) for r in records):
        return client
    merged = merge_run_records(*records)
    if merged == records[2]:
        return client
    if merged == records[1]:
        return server
    from labbook.store.runfile import dump_run_record

    return dump_run_record(merged)
