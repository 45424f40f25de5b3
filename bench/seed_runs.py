"""Fill a catalog with many runs fast, straight through its tables (no run folders): for the
dashboard's scale tests and ``bench_dashboard.py``.

Each run has ``params`` params (``lr``, ``batch_size``, ``optimizer``, then ``p03``...) and
``metrics`` metric summaries (``loss``, ``accuracy``, then ``m02``...), all derived from the run's
index, so a test can tell which rows a filter or a sort must give::

    python bench/seed_runs.py --catalog sqlite:////tmp/home/.labbook/catalog.db --runs 100000

The runs are catalog rows only: lists, filters, sorts and counts see them; opening one (its
page, its series) needs a real run folder, which these do not have.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import uuid as uuid_module
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

OPTIMIZERS = ("adam", "sgd", "adamw", "lion")
BATCH = 5000


def lr_of(index: int) -> float:
    """The ``lr`` param of run ``index``: spread over (0, 1), so ``lr < 0.5`` keeps about half."""
    return round(((index * 7919) % 10007) / 10007, 6)


def loss_of(index: int) -> float:
    """The last ``loss`` of run ``index`` (distinct per run: sorting by it has one answer)."""
    return round(0.05 + ((index * 104729) % 1000003) / 1000003, 9)


def _run_rows(project: str, start: int, count: int, params: int, metrics: int, base: datetime
              ) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]]:
    for index in range(start, start + count):
        uuid = uuid_module.UUID(int=(0xDA5B << 112) | index).hex
        created = base + timedelta(seconds=index)
        inputs: dict[str, Any] = {"lr": lr_of(index), "batch_size": 2 ** (4 + index % 5),
                                  "optimizer": OPTIMIZERS[index % len(OPTIMIZERS)]}
        for p in range(3, params):
            inputs[f"p{p:02d}"] = round(math.sin(index * (p + 1)) * 10, 4)
        run = {"uuid": uuid, "project": project, "name": f"run-{index:06d}", "description": None,
               "status": "succeeded", "created_at": created, "started_at": created,
               "finished_at": created + timedelta(seconds=60 + index % 600), "duration": 60.0 + index % 600,
               "heartbeat_at": None, "user": "bench", "host": "seed", "git_commit": None,
               "path": f"/nonexistent/{uuid}", "run_file_mtime": None, "inputs": inputs, "outputs": {}, "meta": {}}
        param_rows = [{"run_uuid": uuid, "section": "inputs", "key": k,
                       "value_num": float(v) if isinstance(v, (int, float)) else None,
                       "value_text": v if isinstance(v, str) else None, "value_json": json.dumps(v)}
                      for k, v in inputs.items()]
        metric_rows = []
        for m in range(metrics):
            name = ("loss", "accuracy")[m] if m < 2 else f"m{m:02d}"
            last = loss_of(index) if m == 0 else 1 - loss_of(index) / 2 if m == 1 else math.cos(index * (m + 1))
            metric_rows.append({"run_uuid": uuid, "name": name, "last": last, "min": min(last, 0.0) - 0.01 * m,
                                "max": max(last, 1.0) + 0.01 * m, "count": 1000, "last_step": 999,
                                "last_timestamp": created + timedelta(seconds=60)})
        yield run, param_rows, metric_rows


def seed_runs(catalog_url: str, project: str = "scale", runs: int = 100_000, params: int = 20, metrics: int = 20,
              start: int = 0) -> float:
    """Insert ``runs`` runs into ``project`` of the catalog at ``catalog_url``; the seconds it took."""

    from labbook.catalog.catalog import Catalog

    began = time.perf_counter()
    catalog = Catalog(catalog_url)
    try:
        return _seed(catalog, project, runs, params, metrics, start, began)
    finally:
        catalog.close()


def _seed(catalog: Any, project: str, runs: int, params: int, metrics: int, start: int, began: float) -> float:
    import sqlalchemy as sa

    from labbook.catalog import schema

    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with catalog.engine.begin() as conn:
        catalog.ensure_project(conn, project)
    postgres = catalog.engine.dialect.name == "postgresql"
    tables = [(t.name, [c.name for c in t.columns]) for t in (schema.runs, schema.params, schema.metrics)]
    rows = _run_rows(project, start, runs, params, metrics, base)
    raw = catalog.engine.raw_connection()  # the driver's own bulk paths: SQLAlchemy's per-row work costs minutes here
    try:
        if not postgres:  # a bulk load: no per-row foreign-key checks, a big page cache
            for pragma in ("foreign_keys=OFF", "synchronous=OFF", "cache_size=-262144"):
                raw.cursor().execute(f"PRAGMA {pragma}")
        while True:
            batch = [row for _, row in zip(range(BATCH), rows)]
            if not batch:
                break
            cursor = raw.cursor()
            for (table, columns), part in zip(tables, ([r for r, _, _ in batch], [p for _, ps, _ in batch for p in ps],
                                                      [m for _, _, ms in batch for m in ms])):
                values = [tuple(_db_value(row[c], postgres) for c in columns) for row in part]
                names = ", ".join(f'"{c}"' for c in columns)
                if postgres:
                    with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                        for value in values:
                            copy.write_row(value)
                else:
                    cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})", values)
            raw.commit()
    finally:
        raw.close()
    if postgres:
        with catalog.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
    return time.perf_counter() - began


def _db_value(value: Any, postgres: bool) -> Any:
    """A value as the catalog's columns hold it: JSON as text; on SQLite, times as SQLAlchemy writes them."""
    if isinstance(value, (dict, list)) or (value is not None and not isinstance(value, (int, float, str, datetime))):
        return json.dumps(value)
    if isinstance(value, datetime) and not postgres:
        return value.astimezone(timezone.utc).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


SPIKE_STEP = 654_321
BIG_POINTS = 1_000_000
COMPARE_RUNS = 100
COMPARE_POINTS = 10_000


def make_chart_runs(home: str, project: str = "charts") -> dict[str, Any]:
    """Real runs for the chart figures: ``big`` has a 1,000,000-point ``loss`` that is 1.0 but
    for one spike (1e6 at ``SPIKE_STEP``); ``compare-NNN`` are ``COMPARE_RUNS`` runs of
    ``COMPARE_POINTS`` points each. Returns their uuids."""
    import numpy as np

    from labbook.tracking import Run

    quiet = {"install_handlers": False, "track_env": False, "track_code": False, "track_logs": False,
             "collect_resources": False, "home": home}
    with Run(project=project, name="big", **quiet) as run:
        for step in range(BIG_POINTS):
            run.log_metric("loss", 1e6 if step == SPIKE_STEP else 1.0, step=step)
        big = run.uuid
    compared = []
    steps = np.arange(COMPARE_POINTS)
    for i in range(COMPARE_RUNS):
        with Run(project=project, name=f"compare-{i:03d}", **quiet) as run:
            run.log_inputs(lr=round(0.01 * (i + 1), 2), group=f"g{i % 4}")
            values = np.exp(-steps / (500 + 40 * i)) + 0.01 * i
            for step, value in zip(steps.tolist(), values.tolist()):
                run.log_metric("loss", value, step=step)
            compared.append(run.uuid)
    return {"big": big, "compare": compared}


def scale_home(folder: str, runs: int = 100_000) -> dict[str, Any]:
    """A home under ``folder`` (``folder/.labbook``) holding ``make_chart_runs`` and ``runs``
    seeded runs in project ``scale``, built once: a second call finds it ready (``ready.json``)."""
    from pathlib import Path

    from labbook.config import Settings

    root = Path(folder)
    ready = root / f"ready-{runs}.json"
    if ready.exists():
        return json.loads(ready.read_text())
    home = root / ".labbook"
    made = make_chart_runs(str(home))
    made["seed_seconds"] = seed_runs(Settings.load({}, home=home).catalog_url, "scale", runs)
    made["runs"] = runs
    ready.write_text(json.dumps(made))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", help="The catalog URL (sqlite:///... or postgresql+psycopg://...).")
    parser.add_argument("--home", help="Instead: build (once) a home in this folder with the chart runs too.")
    parser.add_argument("--project", default="scale")
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--params", type=int, default=20)
    parser.add_argument("--metrics", type=int, default=20)
    args = parser.parse_args()
    if args.home:
        made = scale_home(args.home, args.runs)
        print(f"{args.home}: ready ({made['seed_seconds']:.1f} s to seed {made['runs']} runs)")
        return
    if not args.catalog:
        parser.error("pass --catalog or --home")
    seconds = seed_runs(args.catalog, args.project, args.runs, args.params, args.metrics)
    print(f"{args.runs} runs x {args.params} params x {args.metrics} metrics into {args.project!r}: {seconds:.1f} s")


if __name__ == "__main__":
    main()
