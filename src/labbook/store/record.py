"""A run's record: reading a run folder back into one record (run.json plus merged summaries).

The rule for the JSON values run.json holds, ``to_json_value``, is ``labbook._values``'s (it is
re-exported here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from labbook._values import MAX_DEPTH, json_float, to_json_value  # noqa: F401 - the one rule
from labbook.store.layout import RunFolder
from labbook.store.runfile import read_run_file


def _as_float(value: Any) -> float | None:
    if value is None:
        return None
    return float(value)  # "nan", "inf" and "-inf" are kept as text in JSON


def merge_summaries(per_writer: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """One summary per metric across every writer's file."""
    merged: dict[str, dict[str, Any]] = {}
    for summaries in per_writer:
        for name, s in summaries.items():
            m = merged.get(name)
            if m is None:
                merged[name] = dict(s)
                continue
            m["count"] += s["count"]
            for key, pick in (("min", min), ("max", max)):
                if s.get(key) is not None:
                    m[key] = s[key] if m.get(key) is None else pick(m[key], s[key])
            if (s["last_timestamp"], s["last_step"]) > (m["last_timestamp"], m["last_step"]):
                m["last"], m["last_timestamp"] = s["last"], s["last_timestamp"]
            m["last_step"] = max(m["last_step"], s["last_step"])
    for m in merged.values():
        m["last"] = _as_float(m.get("last"))
    return merged


def read_summaries(folder: RunFolder) -> dict[str, dict[str, Any]]:
    per_writer = []
    if folder.summaries.is_dir():
        for path in sorted(folder.summaries.glob("*.json")):
            try:
                per_writer.append(orjson.loads(path.read_bytes())["metrics"])
            except (orjson.JSONDecodeError, KeyError, OSError):
                continue  # a summary is derived data; the event files still hold every point
    return merge_summaries(per_writer)


def read_run_record(path: Path) -> dict[str, Any]:
    """run.json with ``metrics`` (merged summaries) and ``path`` added."""
    folder = RunFolder(Path(path))
    record = read_run_file(folder.run_file)
    record["metrics"] = read_summaries(folder)
    record["path"] = str(folder.path)
    return record


def read_lineage(path: Path) -> list[dict[str, Any]]:
    """Every complete record of a lineage.jsonl ([] if absent); a torn last line is skipped."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    records = []
    for line in data.split(b"\n")[:-1]:
        if line.strip():
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue  # a line torn by a crash mid-write
    return records
