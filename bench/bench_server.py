"""The team server's figures, side by side with MLflow's tracking server on the same machine.

``.venv/bin/python bench/bench_server.py [--quick] [--only series,catalog]`` measures, each figure
against a ``labbook server`` (or ``mlflow server``) process started fresh for it on a free port:

**series**: a 1M-point metric with one spike, ``GET .../metrics/series?points=2000`` (full range),
a 10% zoom and a 1,000-point zoom (served raw), read three ways:

- ``run folder``: the series logged into a local home, read from its ``.lbm`` file (the first
  cold server reads it whole and keeps its tiles in the home's cache, ``labbook.store.tiles``;
  the later ones, like any server after the series' first chart, read its tiles);
- ``store chunks``: the same file sent to the server's object store (``LABBOOK_STORE``, a folder
  here, or ``--store s3://...``) in 64 KiB appends, as a syncer sends a growing file, read back
  from its chunk objects (``labbook.catalog.chunks``): the first cold server reads every chunk
  and keeps the series' tiles as an object in the store (``labbook.server.compact.keep_tiles``),
  the later ones read that object and the records of the edge tiles from the chunks;
- ``store compacted``: after ``labbook server --role worker --once`` compacted it into Parquet
  points, min/max tiles and step/value records (``labbook.server.compact``; a chart over steps
  reads the tiles and the records of the tiles where an edge falls), whose seconds are reported too.

Reported per request: the median and p95 of N requests to one server (warm: the series is in the
server's cache), from the ``Server-Timing`` header (from the request's arrival until its response
starts, the whole body made), the client's wall time, and the answer's size; the spike is checked
in every answer. Cold (full range only): the same request as the very first one a freshly started
server process answers (``--cold`` processes, median; after the start-up warm-up that runs before
the server accepts connections, with the OS page cache holding the files just written: no disk
read). The zooms are asked after the full range, so their series is already read: no cold figure.
Target (docs/server.md): full range <= 50 ms server-side, cold and warm.

**catalog**: 100,000 runs (three params, two metric summaries each, ``peers.run_data``) written
straight into a fresh PostgreSQL catalog's tables (setup, not a figure), then the first page of
``GET /runs?filter=params.lr < 0.01 and metrics.loss < 0.5&order_by=-metrics.loss&limit=100``,
and the 100th page through the keyset cursor. Target: <= 20 ms server-side. Also reported: the
CPU time per warm request of the server process and of its PostgreSQL connections (``/proc``),
which the machine's load stretches less than the elapsed time. The load ends with ``VACUUM
(ANALYZE)``, as autovacuum leaves a catalog. ``--catalog URL`` reuses a database an earlier run
filled (e.g. ``fill_labbook_catalog`` alone); ``--server-src PATH`` runs the server (and the
figure's own catalog calls) from another checkout's ``src``, so two versions answer the same runs
(A/B; a copy of the database, ``CREATE DATABASE b TEMPLATE a``, where their schema revisions differ). MLflow: the same runs
written straight into ``mlflow server``'s PostgreSQL tables (runs, params, latest_metrics), then
``POST /api/2.0/mlflow/runs/search`` with the same filter (``params.lr LIKE '0.00%'`` selects the
same runs: MLflow params are strings) ordered by ``metrics.loss DESC``, 100 results. MLflow sends no
server timing, so both sides also report the client's wall time.

PostgreSQL: ``--postgres`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each
figure gets a new database, dropped afterwards. MLflow runs from its own environment (``peers.py``: ``~/.cache/labbook-bench/envs/mlflow`` or ``$LABBOOK_BENCH_ENVS``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
CHUNK = 64 * 1024  # bytes per append, as a syncer sends a growing file
RESULTS: list[dict[str, Any]] = []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def record(figure: str, value: float, unit: str, **extra: Any) -> None:
    RESULTS.append({"figure": figure, "value": value, "unit": unit, **extra})


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    import sqlalchemy as sa

    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"labbook_bench_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def wait_ready(url: str, process: subprocess.Popen, what: str) -> None:
    import httpx

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not start in 180 s")


@contextmanager
def labbook_server(env: dict[str, str], extra: tuple[str, ...] = (), log: Path | None = None,
                   started: list[subprocess.Popen] | None = None) -> Iterator[str]:
    """A ``labbook server`` process on a free loopback port; yields its API base URL.

    ``extra``: more options (``("--workers", "2")``); ``log``: a file for its output (else ours);
    ``started``: a list the process is appended to (to read its CPU time)."""
    port = free_port()
    output = open(log, "wb") if log else None
    process = subprocess.Popen([sys.executable, "-m", "labbook.cli.main", "server", "--port", str(port),
                                "--log-level", "warning", *extra], env=env, stdout=output,
                               stderr=subprocess.STDOUT if output else None)
    if started is not None:
        started.append(process)
    try:
        wait_ready(f"http://127.0.0.1:{port}/api/v1/health", process, "labbook server")
        yield f"http://127.0.0.1:{port}/api/v1"
    finally:
        stop(process)
        if output:
            output.close()


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def mlflow_server(python: Path, backend: str, folder: Path, workers: int = 1) -> Iterator[str]:
    """``mlflow server`` from MLflow's environment (peers.py) on a free loopback port, with the
    backend store ``backend`` and artifacts under ``folder``; yields its base URL. Its output goes
    to ``folder/mlflow.log``. A new SQLite or PostgreSQL store gets MLflow's schema on start."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABBOOK_") and k != "PYTHONPATH"}
    log = open(folder / "mlflow.log", "ab")
    process = subprocess.Popen([str(Path(python).parent / "mlflow"), "server", "--backend-store-uri", backend,
                                "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                                "--default-artifact-root", str(folder / "artifacts")],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}/health", process, "mlflow server")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
        log.close()


def timed(client, method: str, path: str, **kwargs) -> tuple[Any, float, float | None]:
    begin = time.perf_counter()
    answer = client.request(method, path, **kwargs)
    wall = (time.perf_counter() - begin) * 1000
    answer.raise_for_status()
    server = answer.headers.get("server-timing")
    return answer, wall, float(server.split("dur=")[1]) if server else None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_backends(url: str) -> list[int]:
    """The PostgreSQL server processes serving connections to the database of ``url`` (this
    question's own excepted): their CPU is the SQL's."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                             "AND pid <> pg_backend_pid()")).scalars())
    finally:
        engine.dispose()


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


# -- series --------------------------------------------------------------------------------------


def series_figures(args, quick: bool) -> None:
    import httpx

    points = 100_000 if quick else 1_000_000
    requests = 10 if quick else args.requests
    cold_repeats = 2 if quick else args.cold
    with tempfile.TemporaryDirectory(prefix="labbook-bench-server-") as tmp, fresh_database(args.postgres) as url:
        home = Path(tmp) / ".labbook"
        store_root = args.store or str(Path(tmp) / "objects")
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "LABBOOK_HOME": str(home), "LABBOOK_CATALOG_URL": url}
        os.environ.update({k: env[k] for k in ("LABBOOK_HOME", "LABBOOK_CATALOG_URL")})
        from labbook import tokens
        from labbook.catalog.catalog import Catalog
        from labbook.catalog.chunks import ChunkedFiles
        from labbook.tracking import Run

        Catalog(url, auto_migrate=True).close()
        spike_at = points * 2 // 3
        started = time.perf_counter()
        with Run(project="bench", install_handlers=False, track_env=False, track_code=False, track_logs=False,
                 collect_resources=False) as run:
            for step in range(points):
                run.log_metric("loss", 1.0 / (1 + step) if step != spike_at else 1e6, step=step)
        print(f"logged {points:,} points in {time.perf_counter() - started:.1f} s", flush=True)
        token, _ = tokens.create_token("bench", "read")

        # a copy of the run that only the store holds (its catalog row, no metric file locally),
        # the run folder's metric file sent to the store in 64 KiB appends, as a syncer does
        import sqlalchemy as sa

        from labbook.catalog import schema

        catalog = Catalog(url)
        store = ChunkedFiles(store_root, catalog)
        (source,) = sorted((run.path / "events" / "metric" / "loss").glob("*.lbm"))
        relative = source.relative_to(run.path).as_posix()
        run_uuid, shadow = run.uuid, uuid.uuid4().hex
        with catalog.engine.begin() as conn:
            row = dict(conn.execute(sa.select(schema.runs).where(schema.runs.c.uuid == run_uuid)).first()._mapping)
            row.update(uuid=shadow, path=str(Path(tmp) / "nowhere" / shadow))
            conn.execute(schema.runs.insert().values(**row))
        data = source.read_bytes()
        started = time.perf_counter()
        for at in range(0, len(data), CHUNK):
            store.append(shadow, relative, at, data[at:at + CHUNK])
        chunks = len(store.chunks(shadow, relative))
        record("series: send the .lbm file to the store in 64 KiB appends (setup)", time.perf_counter() - started,
               "s", n=chunks, bytes=len(data))

        cases = [
            ("full range, points=2000", {"points": 2000}),
            ("10% zoom, points=2000", {"points": 2000, "x_min": spike_at - points // 20,
                                       "x_max": spike_at + points // 20}),
            ("1,000-point zoom (raw)", {"points": 2000, "x_min": spike_at - 500, "x_max": spike_at + 499}),
        ]
        server_env = {**env, "LABBOOK_STORE": store_root}

        def series(client, target: str, expect: str, label: str, params: dict) -> tuple[Any, float, float]:
            answer, wall, server = timed(client, "GET", f"/runs/{target}/metrics/series",
                                         params={"name": "loss", **params})
            body = answer.json()
            assert body["source"] == expect, body["source"]
            spike = max(body["y"]) if body["raw"] else max(body["max"])
            assert spike == 1e6, f"{label}: the spike was lost"
            assert server is not None, "no Server-Timing header"
            return answer, wall, server

        def measure(source_label: str, target: str, expect: str) -> None:
            # cold: a fresh server process each time (its start-up warm-up done, as uvicorn runs the
            # lifespan before it accepts a connection), and the series request is its very first
            # request; the files were just written, so the OS page cache holds them
            colds: list[float] = []
            for attempt in range(cold_repeats):
                with labbook_server(server_env) as base:
                    client = httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"})
                    label, params = cases[0]
                    colds.append(series(client, target, expect, label, params)[2])
                    if attempt < cold_repeats - 1:
                        continue
                    # warm: the next requests to the last of those servers, each case in turn
                    for label, params in cases:
                        server_ms, wall_ms, size = [], [], 0
                        for _ in range(requests):
                            answer, wall, server = series(client, target, expect, label, params)
                            server_ms.append(server)
                            wall_ms.append(wall)
                            size = len(answer.content)
                        figure = f"series {points // 1000:,}k, {label}, from {source_label}"
                        cold = statistics.median(colds) if label == cases[0][0] else None
                        record(figure, statistics.median(server_ms), "ms", cold=cold, colds=colds if cold else None,
                               p95=p95(server_ms), wall=statistics.median(wall_ms), bytes=size, n=requests)
                        print(f"{figure}: cold {'/'.join(f'{c:.1f}' for c in colds) if cold else '-'} ms, "
                              f"warm median {statistics.median(server_ms):.1f} ms (p95 {p95(server_ms):.1f}), "
                              f"wall {statistics.median(wall_ms):.1f} ms, {size:,} B", flush=True)

        measure("the run folder", run_uuid, "run_folder")
        measure(f"store chunks ({chunks} objects)", shadow, "chunks")
        from labbook.server.worker import enqueue_compaction

        enqueue_compaction(store, shadow)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "labbook.cli.main", "server", "--role", "worker", "--once",
                               "--log-level", "warning"], env=server_env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0 and done.stdout.strip(), done.stderr
        record(f"series: compact {points:,} points (labbook server --role worker --once, a fresh process)",
               time.perf_counter() - started, "s")
        measure("store compacted (Parquet + tiles)", shadow, "compacted")
        catalog.close()


# -- catalog ---------------------------------------------------------------------------------------


def _run_rows(count: int) -> Iterator[tuple[int, str, dict, list]]:
    from peers import run_data

    for index in range(count):
        params, points = run_data(index)
        yield index, uuid.UUID(int=index + 1).hex, params, points


def fill_labbook_catalog(url: str, count: int) -> float:
    """``count`` runs into labbook's tables, in batches (the rows labbook's indexer writes)."""
    import sqlalchemy as sa

    from labbook.catalog import schema
    from labbook.catalog.catalog import Catalog

    catalog = Catalog(url, auto_migrate=True)
    started = time.perf_counter()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    batch: dict[str, list] = {"runs": [], "params": [], "metrics": []}

    def flush(conn) -> None:
        for name, rows in batch.items():
            if rows:
                conn.execute(getattr(schema, name).insert(), rows)
                rows.clear()

    with catalog.engine.begin() as conn:
        catalog.ensure_project(conn, "bench")
        for index, run_uuid, params, points in _run_rows(count):
            batch["runs"].append({"uuid": run_uuid, "project": "bench", "name": f"run-{index}", "status": "succeeded",
                                  "created_at": now, "path": f"/nowhere/{run_uuid}", "inputs": params, "outputs": {},
                                  "meta": {}})
            for key, value in params.items():
                batch["params"].append({"run_uuid": run_uuid, "section": "inputs", "key": key,
                                        "value_num": value if isinstance(value, (int, float)) else None,
                                        "value_text": value if isinstance(value, str) else None, "value_json": value})
            for position, name in ((1, "loss"), (2, "accuracy")):
                values = [p[position] for p in points]
                batch["metrics"].append({"run_uuid": run_uuid, "name": name, "last": values[-1], "min": min(values),
                                         "max": max(values), "count": len(values), "last_step": len(values) - 1,
                                         "last_timestamp": now})
            if len(batch["runs"]) >= 5000:
                flush(conn)
        flush(conn)
    # as autovacuum leaves a catalog soon after a bulk load: statistics, and the visibility map
    # (without it, an index-only walk of a summary's index reads each entry's table row too)
    with catalog.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM (ANALYZE)"))
    catalog.close()
    return time.perf_counter() - started


def catalog_figures(args, quick: bool) -> None:
    import httpx
    from peers import expected_matches

    count = 10_000 if quick else args.runs
    requests = 10 if quick else args.requests
    expected = expected_matches(count)
    query = {"project": "bench", "filter": "params.lr < 0.01 and metrics.loss < 0.5",
             "order_by": "-metrics.loss", "limit": 100}
    with tempfile.TemporaryDirectory(prefix="labbook-bench-catalog-") as tmp, \
            (nullcontext(args.catalog) if args.catalog else fresh_database(args.postgres)) as url:
        home = Path(tmp) / ".labbook"
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "LABBOOK_HOME": str(home), "LABBOOK_CATALOG_URL": url}
        os.environ.update({k: env[k] for k in ("LABBOOK_HOME", "LABBOOK_CATALOG_URL")})
        if args.server_src:  # the server from another checkout (A/B against the same runs)
            env["PYTHONPATH"] = str(Path(args.server_src).resolve())
        if not args.catalog:
            setup = fill_labbook_catalog(url, count)
            record(f"catalog: write {count:,} runs into PostgreSQL (setup)", setup, "s")
        from labbook import tokens

        token, _ = tokens.create_token("bench", "read")
        started: list[subprocess.Popen] = []
        with labbook_server(env, started=started) as base:
            client = httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"})
            client.get("/health").raise_for_status()
            server_ms, wall_ms, cold = [], [], None
            cpu = sql_cpu = 0.0
            for index in range(requests + 1):
                if index == 1:  # the warm requests' CPU: the server process's, and its connections' in PostgreSQL
                    backends = database_backends(url)
                    cpu, sql_cpu = cpu_seconds(started[0].pid), sum(cpu_seconds(pid) for pid in backends)
                answer, wall, server = timed(client, "GET", "/runs", params=query)
                page = answer.json()["runs"]
                losses = [r["metrics"]["loss"]["last"] for r in page]
                assert len(page) == min(100, expected) and losses == sorted(losses, reverse=True)
                if index == 0:
                    cold = server
                    continue
                server_ms.append(server)
                wall_ms.append(wall)
            cpu = (cpu_seconds(started[0].pid) - cpu) / requests * 1000
            sql_cpu = (sum(cpu_seconds(pid) for pid in backends) - sql_cpu) / requests * 1000
            figure = f"catalog {count:,} runs: first page (filter on a param and a metric, ordered by a metric), labbook"
            record(figure, statistics.median(server_ms), "ms", cold=cold, p95=p95(server_ms),
                   wall=statistics.median(wall_ms), n=requests, matches=expected, cpu=cpu, sql_cpu=sql_cpu)
            print(f"{figure}: cold {cold:.1f} ms, warm median {statistics.median(server_ms):.1f} ms, "
                  f"wall {statistics.median(wall_ms):.1f} ms ({expected:,} runs match); CPU per request: "
                  f"server {cpu:.1f} ms, PostgreSQL {sql_cpu:.1f} ms", flush=True)
            # deep down: page 100 through the keyset cursor (the pages before are read to get there)
            params, seen, deep = dict(query), 0, []
            for page_number in range(1, 101):
                answer, wall, server = timed(client, "GET", "/runs", params=params)
                body = answer.json()
                seen += len(body["runs"])
                if page_number > 90:
                    deep.append(server)
                if not body["next_cursor"]:
                    break
                params = {**query, "cursor": body["next_cursor"]}
            figure = f"catalog {count:,} runs: pages 91-100 of the same query (keyset cursor), labbook"
            record(figure, statistics.median(deep) if deep else float("nan"), "ms", n=len(deep), rows_read=seen)
            print(f"{figure}: median {statistics.median(deep) if deep else float('nan'):.1f} ms", flush=True)
    if args.no_mlflow:
        return
    mlflow_catalog(args, count, requests, expected)


def mlflow_catalog(args, count: int, requests: int, expected: int) -> None:
    import httpx
    from peers import PeerUnavailable, peer_python, peer_version

    try:
        python = peer_python("mlflow", install=not args.no_install)
    except PeerUnavailable as error:
        print(f"MLflow skipped: {error}")
        return
    version = peer_version(python, "mlflow")
    with tempfile.TemporaryDirectory(prefix="labbook-bench-mlflow-") as tmp, fresh_database(args.postgres) as url:
        backend = url.replace("postgresql+psycopg://", "postgresql://")
        with mlflow_server(python, backend, Path(tmp)) as host:
            client = httpx.Client(base_url=f"{host}/api/2.0/mlflow", timeout=600)
            experiment = client.post("/experiments/create", json={"name": "bench"}).json()["experiment_id"]
            setup = fill_mlflow_tables(url, experiment, count)
            record(f"catalog: write {count:,} runs into MLflow's PostgreSQL tables (setup)", setup, "s",
                   mlflow=version)
            body = {"experiment_ids": [experiment], "filter": "params.lr LIKE '0.00%' and metrics.loss < 0.5",
                    "order_by": ["metrics.loss DESC"], "max_results": 100}
            wall_ms, cold = [], None
            for index in range(requests + 1):
                answer, wall, _ = timed(client, "POST", "/runs/search", json=body)
                runs = answer.json().get("runs", [])
                assert len(runs) == min(100, expected), len(runs)
                if index == 0:
                    cold = wall
                    continue
                wall_ms.append(wall)
            figure = f"catalog {count:,} runs: first page, same query, MLflow {version} server (PostgreSQL)"
            record(figure, statistics.median(wall_ms), "ms wall", cold=cold, p95=p95(wall_ms), n=requests)
            print(f"{figure}: cold {cold:.1f} ms, warm median wall {statistics.median(wall_ms):.1f} ms", flush=True)


def fill_mlflow_tables(url: str, experiment: str, count: int) -> float:
    """The runs of ``_run_rows`` written into MLflow's own tables (runs, params, latest_metrics):
    logging 100,000 runs through its REST API would take hours."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    meta = sa.MetaData()
    meta.reflect(engine, only=["runs", "params", "latest_metrics"])
    started = time.perf_counter()
    now_ms = int(time.time() * 1000)
    rows: dict[str, list] = {"runs": [], "params": [], "latest_metrics": []}
    with engine.begin() as conn:
        def flush() -> None:
            for name, batch in rows.items():
                if batch:
                    conn.execute(meta.tables[name].insert(), batch)
                    batch.clear()

        for index, run_uuid, params, points in _run_rows(count):
            rows["runs"].append({"run_uuid": run_uuid, "name": f"run-{index}", "source_type": "LOCAL",
                                 "source_name": "", "entry_point_name": "", "user_id": "bench", "status": "FINISHED",
                                 "start_time": now_ms, "end_time": now_ms, "source_version": "",
                                 "lifecycle_stage": "active", "artifact_uri": f"/nowhere/{run_uuid}",
                                 "experiment_id": int(experiment)})
            for key, value in params.items():
                rows["params"].append({"key": key, "value": str(value), "run_uuid": run_uuid})
            for position, name in ((1, "loss"), (2, "accuracy")):
                rows["latest_metrics"].append({"key": name, "value": points[-1][position], "timestamp": now_ms,
                                               "step": len(points) - 1, "is_nan": False, "run_uuid": run_uuid})
            if len(rows["runs"]) >= 5000:
                flush()
        flush()
        conn.execute(sa.text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


# -- main --------------------------------------------------------------------------------------------


def figure_command(args: argparse.Namespace, name: str, quick: bool) -> tuple[list[str], Path]:
    """The command that measures figure group ``name`` in a fresh process, with every option given
    to this one, and the ``src`` folder it imports labbook from: with ``--server-src``, that
    checkout's (the figure's own catalog calls, its token and a fill, use it too: a catalog at
    another schema revision refuses the other version)."""
    command = [sys.executable, __file__, "--figure", name, "--requests", str(args.requests), "--cold",
               str(args.cold), "--runs", str(args.runs), "--postgres", args.postgres] + (["--quick"] if quick else []) \
        + (["--store", args.store] if args.store else []) + (["--no-mlflow"] if args.no_mlflow else []) \
        + (["--no-install"] if args.no_install else []) \
        + (["--catalog", args.catalog] if args.catalog else []) \
        + (["--server-src", args.server_src] if args.server_src else [])
    return command, Path(args.server_src).resolve() if args.server_src else ROOT / "src"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k points, 10k runs, 10 requests")
    parser.add_argument("--only", default="series,catalog", help="comma-separated: series, catalog")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--cold", type=int, default=3, help="fresh servers per cold series figure (median)")
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--postgres", default=os.environ.get("LABBOOK_BENCH_POSTGRES_URL",
                                                             "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--store", default=None, help="the object store for the series figure (default: a folder)")
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--catalog", default=None,
                        help="catalog figure: a PostgreSQL URL already filled by an earlier run (kept; no setup)")
    parser.add_argument("--server-src", default=None,
                        help="catalog figure: run the server from this src folder (another checkout, for A/B)")
    parser.add_argument("--no-install", action="store_true", help="use MLflow's environment (peers.py) only if it exists")
    parser.add_argument("--figure", default=None, help=argparse.SUPPRESS)  # one figure, in this process
    parser.add_argument("--json", default=None, help="write the figures to this JSON file")
    args = parser.parse_args()
    quick = args.quick or os.environ.get("LABBOOK_BENCH_QUICK") == "1"
    if args.figure:
        {"series": series_figures, "catalog": catalog_figures}[args.figure](args, quick)
        print("FIGURES " + json.dumps(RESULTS), flush=True)
        return 0
    started = time.perf_counter()
    print(f"labbook server bench, {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%S}Z, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}", flush=True)
    figures: list[dict[str, Any]] = []
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        # each group in a fresh process: no cache, import or connection carried from the one before
        command, source = figure_command(args, name, quick)
        done = subprocess.run(command, capture_output=True, text=True, timeout=3600,
                              env={**os.environ, "PYTHONPATH": str(source)})
        sys.stdout.write("".join(line + "\n" for line in done.stdout.splitlines() if not line.startswith("FIGURES ")))
        if done.returncode != 0:
            sys.stdout.write(done.stderr[-4000:])
            return done.returncode
        for line in done.stdout.splitlines():
            if line.startswith("FIGURES "):
                figures.extend(json.loads(line[len("FIGURES "):]))
    print()
    print("| Figure | Value | Cold | p95 | Client wall | n |")
    print("|---|---:|---:|---:|---:|---:|")
    def fmt(f: dict, key: str) -> str:
        value = f.get(key)
        return "" if value is None else f"{value:,.1f}"

    for f in figures:
        print(f"| {f['figure']} | {f['value']:,.2f} {f['unit']} | {fmt(f, 'cold')} | {fmt(f, 'p95')} | {fmt(f, 'wall')} "
              f"| {f.get('n', '')} |")
    print(f"\n{time.perf_counter() - started:.0f} s in all")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
