"""Traces: trees of spans (LLM calls, chains, agents, tools) logged as one event.

A span is a ``Span`` or a plain dict with the same keys; ``children`` nest. Value: the span
tree as JSON, each span with ``uuid``, ``name``, ``kind``, ``tags``, ``started_at``,
``finished_at``, ``status``, ``metadata``, ``inputs``, ``outputs`` and ``children``.

    root = Span("answer", kind="chain", inputs={"question": "2+2?"}, outputs={"answer": "4"},
                children=[Span("llm", kind="llm", metadata={"tokens": 12})])
    run.log_trace(root, step=3)
"""

from __future__ import annotations

import enum
import uuid as uuid_module
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from labbook._values import json_value
from labbook.errors import InvalidValueError

SPAN_KINDS = ("llm", "chain", "agent", "tool", "embedding", "retriever")
MAX_DEPTH = 64
_KEYS = ("uuid", "name", "kind", "tags", "started_at", "finished_at", "status", "status_conditions",
         "metadata", "inputs", "outputs", "children")


@dataclass
class Span:
    """One step of a trace; ``children`` are the steps it called."""

    name: str
    kind: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    started_at: datetime | str | None = None
    finished_at: datetime | str | None = None
    status: str | None = None
    children: list[Span] = field(default_factory=list)
    uuid: str = field(default_factory=lambda: uuid_module.uuid4().hex)

    def to_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in _KEYS if hasattr(self, key)}


def _as_dict(span: Any) -> dict[str, Any]:
    if isinstance(span, dict):
        return span
    if hasattr(span, "to_dict"):
        return span.to_dict()
    raise InvalidValueError(
        f"log_trace: span must be a labbook.media.traces.Span or a dict, got {type(span).__name__}."
    )


def span_value(span: Any, path: str = "span", depth: int = 0) -> dict[str, Any]:
    """The span tree as JSON data, checked; errors name the span by its place in the tree."""
    if depth > MAX_DEPTH:
        raise InvalidValueError(f"log_trace: {path} is nested more than {MAX_DEPTH} levels (a cycle?).")
    data = dict(_as_dict(span))
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidValueError(f"log_trace: {path} has name {name!r}; every span needs a non-empty str name.")
    kind = data.get("kind")
    kind = kind.value if isinstance(kind, enum.Enum) else kind
    if kind is not None and kind not in SPAN_KINDS:
        raise InvalidValueError(
            f"log_trace: {path} ({name!r}) has kind {kind!r}; use one of {', '.join(SPAN_KINDS)} or None."
        )
    children = data.get("children") or []
    if not isinstance(children, (list, tuple)):
        raise InvalidValueError(f"log_trace: {path}.children must be a list of spans.")
    out: dict[str, Any] = {}
    for key, item in data.items():
        if key == "children" or item is None:
            continue
        if isinstance(item, enum.Enum):
            item = item.value
        out[key] = json_value("log_trace", f"{path}.{key}", item)
    out["kind"] = kind
    out.setdefault("uuid", uuid_module.uuid4().hex)
    out["children"] = [span_value(child, f"{path}.children[{i}]", depth + 1) for i, child in enumerate(children)]
    return out
