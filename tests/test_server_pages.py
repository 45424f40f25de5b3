"""GET /runs encodes its page with orjson from the rows (``views.run_page_json``): the same JSON,
byte for byte, as the response models FastAPI would build, validate and dump."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from pydantic import TypeAdapter

from labbook.config import Settings
from labbook.runs import RunRow
from labbook.server import models, views


def _row(index: int, **changes) -> RunRow:
    moment = datetime(2026, 11, 30, 12, 0, index, 250 * index, tzinfo=timezone.utc)
    row = {
        "uuid": f"{index:032x}", "project": "pages", "name": f"run-{index}", "description": None,
        "status": "succeeded", "created_at": moment, "started_at": moment.replace(microsecond=0),
        "finished_at": None, "duration": 1.5, "heartbeat_at": None, "user": "ann", "host": "node-1",
        "git_commit": None, "path": f"/nowhere/{index}", "run_file_mtime": None,
        "inputs": {"lr": 0.001 * index, "layers": [64, 32], "name": "ünïcode ✓", "nan": float("nan"),
                   "big": 2 ** 62, "nested": {"ok": True, "none": None}},
        "outputs": {"score": float("inf")}, "meta": {},
        "tags": ["best", "baseline"],
        # (run_uuid, name, last, min, max, count, last_step, last_timestamp) as the catalog returns them
        "metrics": [(f"{index:032x}", "loss", 0.5, 0.25, float("nan"), 3, 2, moment),
                    (f"{index:032x}", "acc", 1, 0, 1, 2.0, None, None)],
        "sort_key": [0.5, f"{index:032x}"],
    }
    row.update(changes)
    return RunRow(row, Settings.load({}))


def _as_fastapi_would(rows: list[RunRow], columns: list[str], only_columns: bool, cursor: str | None) -> bytes:
    """What FastAPI sends for a route returning ``RunPage`` with ``response_model=RunPage``."""
    page = models.RunPage(runs=[views.run_row(r, columns, only_columns) for r in rows], next_cursor=cursor)
    adapter = TypeAdapter(models.RunPage)  # FastAPI validates the value again, then dumps it (dump_json)
    return adapter.dump_json(adapter.validate_python(page), by_alias=True)


@pytest.mark.parametrize("columns,only_columns", [
    ([], False),
    (["params.lr", "metrics.loss.min", "created_at", "tags", "outputs.score", "metrics.missing"], False),
    (["params.lr", "metrics.loss", "outputs.score"], True),
])
def test_run_page_json_is_the_models_json(columns, only_columns):
    rows = [_row(i) for i in range(1, 4)] + [_row(9, tags=[], metrics=[], inputs=None, outputs=None)]
    assert views.run_page_json(rows, columns, only_columns, "next") == \
        _as_fastapi_would(rows, columns, only_columns, "next")
    assert views.run_page_json([], columns, only_columns, None) == b'{"runs":[],"next_cursor":null}'


def test_run_page_json_falls_back_to_the_models_for_what_orjson_refuses():
    rows = [_row(1, inputs={"huge": 2 ** 70})]  # beyond 64 bits: orjson refuses it, pydantic writes it
    assert json.loads(views.run_page_json(rows, [], False, None)) == json.loads(_as_fastapi_would(rows, [], False, None))
