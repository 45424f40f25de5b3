"""Lineage records: what a run produced and consumed, appended to its ``lineage.jsonl``.

One JSON object per line, never rewritten (Polyaxon kept only the last record per name)::

    {"id": "5c0e...", "time": "2026-11-23T05:01:02.000001+00:00", "name": "train",
     "kind": "dataset", "path": "outputs/datasets/train.parquet", "is_input": false,
     "summary": {"hash": "9f86d081884c", "size": 1024}, "uri": "store://datasets/churn/train@...",
     "uid": "...", "state": null}

``RunArtifact`` (alias ``V1RunArtifact``) is Polyaxon's shape, accepted by
``log_artifact_lineage``.
"""

from __future__ import annotations

import os
import uuid as uuid_module
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from labbook._time import utc_now_iso
from labbook.errors import InvalidValueError
from labbook.store.kinds import kind_value
from labbook.store.names import check_name
from labbook.store.record import read_lineage  # noqa: F401 - the reader lives with the store


@dataclass
class RunArtifact:
    """One lineage record: ``RunArtifact(name="data", kind="data", path="s3://b/k", is_input=True)``."""

    name: str
    kind: Any = "artifact"
    path: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    is_input: bool = False
    state: str | None = None
    meta_info: dict[str, Any] | None = None
    connection: str | None = None
    run: str | None = None
    uri: str | None = None
    uid: str | None = None

    def to_record(self) -> dict[str, Any]:
        """The line written to lineage.jsonl, with a fresh id and time."""
        check_name(self.name, "lineage name")
        data = asdict(self)
        data["kind"] = kind_value(self.kind, "artifact")
        data["summary"] = dict(self.summary or {})
        data["is_input"] = bool(self.is_input)
        record = {"id": uuid_module.uuid4().hex,
                  "time": utc_now_iso(),
                  **{k: v for k, v in data.items() if v is not None or k in ("path", "uri", "uid")}}
        try:
            orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
        except TypeError as error:
            raise InvalidValueError(
                f"Lineage record {self.name!r} holds a value JSON cannot store ({error}); use numbers "
                "within 64 bits, text, lists and dicts."
            ) from None
        return record

    @classmethod
    def from_value(cls, value: Any) -> RunArtifact:
        if isinstance(value, RunArtifact):
            return value
        if hasattr(value, "to_dict"):
            value = value.to_dict()
        if not isinstance(value, dict):
            raise InvalidValueError(
                f"log_artifact_lineage() takes a dict, a RunArtifact or a list of them; got "
                f"{type(value).__name__} ({value!r:.60})."
            )
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(value) - known
        if unknown:
            raise InvalidValueError(
                f"Lineage record {value!r:.80} has unknown fields {sorted(unknown)}; use: {sorted(known)}."
            )
        if "name" not in value:
            raise InvalidValueError(f"Lineage record {value!r:.80} has no name. Add name=.")
        return cls(**value)


def append_lineage(path: Path, records: list[dict[str, Any]]) -> None:
    """Append records to a lineage.jsonl with one O_APPEND write (safe with other processes)."""
    if not records:
        return
    payload = b"".join(orjson.dumps(r, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
                                    | orjson.OPT_APPEND_NEWLINE) for r in records)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, payload)
    finally:
        os.close(fd)


