"""Remote tracking: what ``LABBOOK_HOST`` costs the caller, and how soon the server has the data.

Run it with ``.venv/bin/python bench/bench_sync.py`` (a few minutes on 2 cores; ``--quick``
fewer repetitions, ``--no-mlflow`` without the peer). It starts ``labbook server`` on a free port
of 127.0.0.1 with a fresh home (and ``mlflow server``, SQLite backend in a temporary folder, from
MLflow's environment: peers.py), then measures, each figure in a fresh process, the repetitions
interleaved (1 of every system, then 2, ...):

1. ``run.log_metric`` per call (100,000 calls, median of the repetitions): a bare baseline
   (one orjson line appended to a buffered file), labbook local, labbook with ``LABBOOK_HOST``;
   beside them ``mlflow.log_metric`` against ``mlflow server`` (``--mlflow-calls``, 2,000: its REST
   client sends one request per call).
2. Lag: seconds from ``log_metric`` of a marker point until the server answers it in
   ``GET /runs/{uuid}/metrics/series`` (the writer's flush + the syncer's pass + indexing).
3. Seconds from ``end()`` of a run holding 1,000,000 points until the server's run summary
   counts all of them (``end()`` itself waits for the last pass).
4. Throughput (``--only throughput``): ``--clients`` (16) processes, each logging ``--points``
   points of one metric with ``LABBOOK_HOST`` set to one ``labbook server`` (``--workers`` 1 and 2;
   a SQLite home, and with ``--postgres`` also a fresh PostgreSQL catalog), started together once all
   are ready; points per second from that start until every run's point count on the server (GET
   /runs/{uuid}, polled from when its client has made its last call) is all of its points. Beside it
   the same with ``MlflowClient.log_batch`` (1,000 points a request) against ``mlflow server``,
   ``--mlflow-points`` (2,000) per client as it pays seconds per request here, and labbook again at
   that size (MLflow's points are counted with ``GET /api/2.0/mlflow/metrics/get-history``).

Figures go to ``bench/results/sync.json`` (``--json``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(HERE))
perf = time.perf_counter


def worker(mode: str, calls: int) -> dict:
    """One fresh process: ``mode`` is baseline, local or remote."""
    if mode == "baseline":
        import orjson

        with tempfile.TemporaryDirectory() as folder, open(Path(folder) / "m.jsonl", "ab") as handle:
            started = perf()
            for step in range(calls):
                handle.write(orjson.dumps({"name": "loss", "value": 1.0 / (step + 1), "step": step}) + b"\n")
            return {"call_us": (perf() - started) / calls * 1e6}
    from labbook.tracking import Run

    kwargs = {"install_handlers": False, "track_env": False, "track_code": False, "track_logs": False,
              "collect_resources": False}
    run = Run(project="bench", name=mode, **kwargs)
    for step in range(1000):  # warm up the hot path
        run.log_metric("warm", 1.0, step=step)
    started = perf()
    for step in range(calls):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    figures = {"call_us": (perf() - started) / calls * 1e6}
    if mode == "remote":
        import httpx

        api = httpx.Client(base_url=os.environ["LABBOOK_HOST"] + "/api/v1",
                           headers={"Authorization": f"Bearer {os.environ['LABBOOK_TOKEN']}"}, timeout=30)
        lags = []
        for index in range(5):
            time.sleep(0.3)
            logged = perf()
            run.log_metric("marker", float(index), step=index)
            while True:
                answer = api.get(f"/runs/{run.uuid}/metrics/series", params={"name": "marker", "points": 100})
                if answer.status_code == 200 and answer.json()["total"] == index + 1:
                    break
                if perf() - logged > 60:
                    raise SystemExit(f"the server did not show marker {index} in 60 s: {answer.status_code} "
                                     f"{answer.text[:300]}; syncer: {run._syncer.last_error}")
                time.sleep(0.02)
            lags.append(perf() - logged)
        figures["lag_s"] = lags
    started = perf()
    run.end()
    figures["end_s"] = perf() - started
    return figures


def million(points: int) -> dict:
    """A run of ``points`` points with LABBOOK_HOST: end() time and until the server counts them."""
    import httpx

    from labbook.tracking import Run

    run = Run(project="bench", name="million", install_handlers=False, track_env=False, track_code=False,
              track_logs=False, collect_resources=False)
    for step in range(points):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    api = httpx.Client(base_url=os.environ["LABBOOK_HOST"] + "/api/v1",
                       headers={"Authorization": f"Bearer {os.environ['LABBOOK_TOKEN']}"}, timeout=30)
    started = perf()
    run.end()
    ended = perf() - started
    while True:
        detail = api.get(f"/runs/{run.uuid}").json()
        if (detail.get("metrics", {}).get("loss") or {}).get("count") == points:
            break
        time.sleep(0.05)
    return {"end_s": ended, "queryable_s": perf() - started}


def client(points: int, go: str) -> None:
    """One of the throughput's concurrent clients (LABBOOK_HOST set): a run, then ``points`` points
    once the file ``go`` exists; prints its uuid, then when its last call returned, then end()."""
    from labbook.tracking import Run

    run = Run(project="throughput", install_handlers=False, track_env=False, track_code=False, track_logs=False,
              collect_resources=False)
    print(json.dumps({"run": run.uuid}), flush=True)
    while not os.path.exists(go):
        time.sleep(0.005)
    log = run.log_metric
    for step in range(points):
        log("loss", 1.0 / (step + 1), step=step)
    print(json.dumps({"logged": time.time()}), flush=True)
    run.end()


def fresh(args: list[str], env: dict) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"worker {args} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABBOOK_") or k.startswith("LABBOOK_BENCH_")}
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def write_token(home: Path, env: dict[str, str]) -> str:
    return subprocess.run([sys.executable, "-m", "labbook.cli.main", "--home", str(home), "server", "token", "create",
                           "--name", "bench", "--scope", "write"], env=env, capture_output=True, text=True,
                          check=True).stdout.strip().splitlines()[-1]


def mlflow_python(options: argparse.Namespace) -> Path | None:
    if options.no_mlflow:
        return None
    from peers import PeerUnavailable, peer_python

    try:
        return peer_python("mlflow", install=not options.no_install)
    except PeerUnavailable as error:
        print(f"MLflow not measured: {error}", flush=True)
        return None


def mlflow_worker(python: Path, spec: dict[str, Any]) -> dict[str, Any]:
    from peers import run_worker

    found: dict[str, Any] = {}
    for message in run_worker(python, HERE / "peer_mlflow.py", spec, timeout=900):
        if "error" in message:
            raise SystemExit(f"MLflow's {spec['task']} failed: {message.get('message')}")
        found[message["figure"]] = message["value"]
    return found


def per_call(options: argparse.Namespace, reps: int, python: Path | None, results: dict[str, Any]) -> None:
    """Figures 1-3: the caller's cost per call, the lag, and a million points."""
    from bench_server import labbook_server, mlflow_server

    base = base_env()
    with tempfile.TemporaryDirectory(prefix="labbook-bench-sync-") as tmp, contextlib.ExitStack() as stack:
        server_home, client_home = Path(tmp) / "server" / ".labbook", Path(tmp) / "client" / ".labbook"
        server_home.mkdir(parents=True)
        token = write_token(server_home, base)
        log = Path(tmp) / "server.log"
        api = stack.enter_context(labbook_server({**base, "LABBOOK_HOME": str(server_home)}, log=log))
        mlflow_host = None
        if python:
            folder = Path(tmp) / "mlflow"
            folder.mkdir()
            mlflow_host = stack.enter_context(mlflow_server(python, f"sqlite:///{folder / 'mlflow.db'}", folder))
        local_env = {**base, "LABBOOK_HOME": str(client_home)}
        remote_env = {**local_env, "LABBOOK_HOST": api.removesuffix("/api/v1"), "LABBOOK_TOKEN": token}
        figures: dict[str, list] = {"baseline": [], "local": [], "remote": [], "mlflow": []}
        lags: list[float] = []
        ends: dict[str, list] = {"local": [], "remote": []}
        try:
            for rep in range(reps):
                for mode, env in (("baseline", local_env), ("local", local_env), ("remote", remote_env)):
                    result = fresh(["--worker", mode, "--calls", str(options.calls)], env)
                    figures[mode].append(result["call_us"])
                    lags += result.get("lag_s", [])
                    if "end_s" in result:
                        ends[mode].append(result["end_s"])
                if python and mlflow_host:
                    found = mlflow_worker(python, {"task": "rest_log_metric", "host": mlflow_host,
                                                   "calls": options.mlflow_calls, "experiment": f"sync-{rep}"})
                    figures["mlflow"].append(found["rest_log_metric.call_us"])
            big = fresh(["--million", "1000000"], remote_env)
        except SystemExit:
            print(log.read_text()[-3000:], file=sys.stderr)
            raise
    median = {mode: statistics.median(values) for mode, values in figures.items() if values}
    print(f"run.log_metric per call, {options.calls:,} calls (MLflow {options.mlflow_calls:,}), "
          f"median of {reps} fresh processes:")
    labels = {"baseline": "orjson lines", "local": "labbook local", "remote": "labbook LABBOOK_HOST",
              "mlflow": "mlflow.log_metric -> mlflow server"}
    for mode in median:
        print(f"  {labels[mode]:36s} {median[mode]:10.2f} us   (runs: {', '.join(f'{v:.2f}' for v in figures[mode])})")
    print(f"  remote / local = {median['remote'] / median['local']:.2f}x, "
          f"remote / baseline = {median['remote'] / median['baseline']:.2f}x")
    if "mlflow" in median:
        print(f"  mlflow / labbook remote = {median['mlflow'] / median['remote']:,.0f}x, "
              f"mlflow / baseline = {median['mlflow'] / median['baseline']:,.0f}x")
    print(f"lag from log_metric until the server answers the point: median {statistics.median(lags):.2f} s, "
          f"max {max(lags):.2f} s over {len(lags)} points")
    print(f"end() of a {options.calls:,}-point run: local median {statistics.median(ends['local']):.2f} s, "
          f"remote median {statistics.median(ends['remote']):.2f} s (after the lag probes: not comparable)")
    print(f"1,000,000 points with LABBOOK_HOST: end() {big['end_s']:.2f} s; queryable on the server "
          f"{big['queryable_s']:.2f} s after end() was called", flush=True)
    results["per_call"] = {"calls": options.calls, "mlflow_calls": options.mlflow_calls, "reps": reps,
                           "call_us": figures, "median_us": median, "lag_s": lags, "end_s": ends, "million": big}


def concurrent(commands: list[tuple[list[str], dict[str, str]]], go: Path, queryable: Callable[[str], bool],
               timeout: float = 900) -> dict[str, float]:
    """Start every client, wait until each has printed its run, create ``go``, and poll
    ``queryable(run)`` for each run from when its client printed ``logged`` until all hold.
    Seconds from ``go`` to the last run queryable, and to the last client's last call."""
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for command, env in commands]
    runs: list[str | None] = [None] * len(processes)
    logged: list[float | None] = [None] * len(processes)
    ready = threading.Barrier(len(processes) + 1)

    def read(index: int, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        waiting = True
        for line in process.stdout:
            if not line.startswith("{"):
                continue
            message = json.loads(line)
            if "run" in message:
                runs[index] = message["run"]
            if "logged" in message:
                logged[index] = message["logged"]
            if waiting and runs[index]:
                waiting = False
                ready.wait()
        if waiting:  # died before its run: let the main thread see it
            ready.abort()

    threads = [threading.Thread(target=read, args=(i, p), daemon=True) for i, p in enumerate(processes)]
    for thread in threads:
        thread.start()
    try:
        try:
            ready.wait(timeout=300)
        except threading.BrokenBarrierError:
            raise SystemExit("a throughput client exited before its run was created "
                             f"(exit codes {[p.poll() for p in processes]})") from None
        started = time.time()
        go.write_text("go")
        pending = set(range(len(processes)))
        while pending:
            for index in sorted(pending):
                run = runs[index]
                if logged[index] is not None and run is not None and queryable(run):
                    pending.discard(index)
            if time.time() - started > timeout:
                raise SystemExit(f"{len(pending)} runs not queryable after {timeout:.0f} s")
            if any(p.poll() not in (None, 0) for p in processes):
                raise SystemExit(f"a throughput client failed: exit codes {[p.poll() for p in processes]}")
            time.sleep(0.05)
        done = time.time() - started
        last_call = max(t for t in logged if t is not None) - started
    finally:
        for process in processes:
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return {"queryable_s": done, "last_call_s": last_call}


def labbook_throughput(options: argparse.Namespace, points: int, workers: int, catalog: str | None) -> dict[str, float]:
    import httpx
    from bench_server import labbook_server

    base = base_env()
    with tempfile.TemporaryDirectory(prefix="labbook-bench-throughput-") as tmp:
        home = Path(tmp) / "server" / ".labbook"
        home.mkdir(parents=True)
        server_env = {**base, "LABBOOK_HOME": str(home), **({"LABBOOK_CATALOG_URL": catalog} if catalog else {})}
        token = write_token(home, server_env)
        log = Path(tmp) / "server.log"
        with labbook_server(server_env, ("--workers", str(workers)), log=log) as api:
            reader = httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"}, timeout=60)

            def queryable(run: str) -> bool:
                answer = reader.get(f"/runs/{run}")
                if answer.status_code != 200:
                    return False
                return (answer.json().get("metrics", {}).get("loss") or {}).get("count") == points

            commands = []
            for index in range(options.clients):
                env = {**base, "LABBOOK_HOME": str(Path(tmp) / f"client{index}" / ".labbook"),
                       "LABBOOK_HOST": api.removesuffix("/api/v1"), "LABBOOK_TOKEN": token}
                commands.append(([sys.executable, __file__, "--client", str(points), "--go",
                                  str(Path(tmp) / "go")], env))
            try:
                return concurrent(commands, Path(tmp) / "go", queryable)
            except SystemExit:
                print(log.read_text()[-3000:], file=sys.stderr)
                raise


def mlflow_throughput(options: argparse.Namespace, points: int, python: Path) -> dict[str, float]:
    import httpx
    from bench_server import mlflow_server

    with tempfile.TemporaryDirectory(prefix="labbook-bench-mlflow-throughput-") as tmp:
        folder = Path(tmp)
        with mlflow_server(python, f"sqlite:///{folder / 'mlflow.db'}", folder) as host:
            reader = httpx.Client(base_url=f"{host}/api/2.0/mlflow", timeout=120)
            experiment = reader.post("/experiments/create", json={"name": "throughput"}).json()["experiment_id"]

            def queryable(run: str) -> bool:
                answer = reader.get("/metrics/get-history", params={"run_id": run, "metric_key": "loss",
                                                                     "max_results": points + 1})
                return answer.status_code == 200 and len(answer.json().get("metrics", [])) == points

            spec = {"task": "batch_client", "host": host, "experiment_id": experiment, "points": points,
                    "go": str(folder / "go"), "root": tmp}
            env = {k: v for k, v in os.environ.items() if not k.startswith("LABBOOK_") and k != "PYTHONPATH"}
            commands = [([str(python), str(HERE / "peer_mlflow.py"), json.dumps(spec)], env)
                        for _ in range(options.clients)]
            try:
                return concurrent(commands, folder / "go", queryable)
            except SystemExit:
                print((folder / "mlflow.log").read_text()[-3000:], file=sys.stderr)
                raise


def throughput(options: argparse.Namespace, python: Path | None, results: dict[str, Any]) -> None:
    """Figure 4: ``--clients`` processes at once, points per second until the server has them all.

    MLflow takes seconds per 1,000-point ``log_batch`` here, so it logs ``--mlflow-points`` per
    client; labbook is measured at that size too (one row), beside its own ``--points``."""
    from bench_server import fresh_database

    def on_postgres(points: int, workers: int) -> dict[str, float]:
        with fresh_database(options.postgres) as url:
            return labbook_throughput(options, points, workers, url)

    setups: list[tuple[str, int, Callable[[], dict[str, float]]]] = []
    for workers in (2, 1):
        setups.append((f"labbook server --workers {workers}, SQLite home", options.points,
                       lambda w=workers: labbook_throughput(options, options.points, w, None)))
    if options.postgres:
        for workers in (2, 1):
            setups.append((f"labbook server --workers {workers}, PostgreSQL catalog", options.points,
                           lambda w=workers: on_postgres(options.points, w)))
    if python:
        small = options.mlflow_points
        setups.append(("labbook server --workers 1, SQLite home", small,
                       lambda: labbook_throughput(options, small, 1, None)))
        setups.append(("mlflow server --workers 1 (SQLite), MlflowClient.log_batch", small,
                       lambda: mlflow_throughput(options, small, python)))
    print(f"\nthroughput: {options.clients} client processes, each logging its points, until the server "
          f"counts every point:", flush=True)
    rows = []
    for label, points, measure in setups:
        load = os.getloadavg()[0]
        found = measure()
        total = options.clients * points
        rows.append({"setup": label, "points_per_client": points, **found, "points_per_s": total / found["queryable_s"],
                     "load": load})
        print(f"  {label:56s} {options.clients} x {points:>6,}: {total / found['queryable_s']:>9,.0f} points/s "
              f"({found['queryable_s']:.2f} s; last client call at {found['last_call_s']:.2f} s; load {load:.1f})",
              flush=True)
    results["throughput"] = {"clients": options.clients, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 repetitions; throughput clients log 5,000 points (MLflow's 500)")
    parser.add_argument("--only", choices=["call", "throughput"], help="one group of figures")
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--mlflow-calls", type=int, default=None,
                        help="MLflow pays milliseconds per call: 2,000 (--quick: 500)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--points", type=int, default=None, help="points per throughput client (20,000)")
    parser.add_argument("--mlflow-points", type=int, default=None, help="points per MLflow client (2,000)")
    parser.add_argument("--postgres", nargs="?", const="postgresql+psycopg://postgres@127.0.0.1:5432/test",
                        default=None, help="also measure throughput on a fresh PostgreSQL catalog "
                        "(an admin URL; a new database is made and dropped)")
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--no-install", action="store_true", help="use MLflow only if its environment exists")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "sync.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--million", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--client", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--go", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        print(json.dumps(worker(options.worker, options.calls)))
        return
    if options.million:
        print(json.dumps(million(options.million)))
        return
    if options.client:
        client(options.client, options.go)
        return
    from report import machine

    quick = options.quick or os.environ.get("LABBOOK_BENCH_QUICK") == "1"
    reps = 3 if quick else 5
    options.points = options.points or (5_000 if quick else 20_000)
    options.mlflow_points = options.mlflow_points or (500 if quick else 2_000)
    options.mlflow_calls = options.mlflow_calls or (500 if quick else 2_000)
    info = machine()
    print(f"labbook sync bench {info['date']} | {info['cpus']} CPUs | load {info['load_average']} "
          f"| labbook {info['labbook_commit']}", flush=True)
    python = mlflow_python(options)
    results: dict[str, Any] = {"machine": info}
    if python:
        from peers import peer_version

        results["mlflow"] = peer_version(python, "mlflow")
    if options.only in (None, "call"):
        per_call(options, reps, python, results)
    if options.only in (None, "throughput"):
        throughput(options, python, results)
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    options.json.parent.mkdir(parents=True, exist_ok=True)
    options.json.write_text(json.dumps(results, indent=1))
    print(f"load average at the end {results['load_average_end']}; figures in {options.json}")


if __name__ == "__main__":
    main()
