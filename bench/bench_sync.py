"""Remote tracking: what ``LABBOOK_HOST`` costs the caller, and how soon the server has the data.

Run it with ``.venv/bin/python bench/bench_sync.py`` (about a minute on 2 cores; ``--quick``
fewer repetitions). It starts ``labbook server`` on a free port of 127.0.0.1 with a fresh home,
then measures, each figure in a fresh process:

1. ``run.log_metric`` per call (100,000 calls, median of the repetitions): a bare baseline
   (one orjson line appended to a buffered file), labbook local, labbook with ``LABBOOK_HOST``.
2. Lag: seconds from ``log_metric`` of a marker point until the server answers it in
   ``GET /runs/{uuid}/metrics/series`` (the writer's flush + the syncer's pass + indexing).
3. Seconds from ``end()`` of a run holding 1,000,000 points until the server's run summary
   counts all of them (``end()`` itself waits for the last pass).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
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


def fresh(args: list[str], env: dict) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"worker {args} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--worker")
    parser.add_argument("--million", type=int)
    parser.add_argument("--calls", type=int, default=100_000)
    options = parser.parse_args()
    if options.worker:
        print(json.dumps(worker(options.worker, options.calls)))
        return
    if options.million:
        print(json.dumps(million(options.million)))
        return
    import httpx

    reps = 3 if options.quick else 5
    base = {k: v for k, v in os.environ.items() if not k.startswith("LABBOOK_")}
    base["PYTHONPATH"] = str(SRC) + os.pathsep + base.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory() as tmp:
        server_home, client_home = Path(tmp) / "server" / ".labbook", Path(tmp) / "client" / ".labbook"
        server_home.mkdir(parents=True)
        token = subprocess.run([sys.executable, "-m", "labbook.cli.main", "--home", str(server_home), "server", "token",
                                "create", "--name", "bench", "--scope", "write"], env=base, capture_output=True,
                               text=True, check=True).stdout.strip().splitlines()[-1]
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server_log = open(Path(tmp) / "server.log", "wb")
        server = subprocess.Popen([sys.executable, "-m", "labbook.cli.main", "--home", str(server_home), "server",
                                   "--port", str(port), "--log-level", "warning"], env=base,
                                  stdout=server_log, stderr=subprocess.STDOUT)
        host = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{host}/api/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            local_env = {**base, "LABBOOK_HOME": str(client_home)}
            remote_env = {**local_env, "LABBOOK_HOST": host, "LABBOOK_TOKEN": token}
            figures: dict[str, list] = {"baseline": [], "local": [], "remote": []}
            lags, ends = [], {"local": [], "remote": []}
            for _ in range(reps):
                for mode, env in (("baseline", local_env), ("local", local_env), ("remote", remote_env)):
                    result = fresh(["--worker", mode, "--calls", str(options.calls)], env)
                    figures[mode].append(result["call_us"])
                    lags += result.get("lag_s", [])
                    if "end_s" in result:
                        ends[mode].append(result["end_s"])
            big = fresh(["--million", "1000000"], remote_env)
        except SystemExit:
            server_log.flush()
            print((Path(tmp) / "server.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            server.terminate()
            server.wait(timeout=30)
    median = {mode: statistics.median(values) for mode, values in figures.items()}
    print(f"run.log_metric per call, {options.calls:,} calls, median of {reps} fresh processes:")
    for mode in ("baseline", "local", "remote"):
        print(f"  {mode:9s} {median[mode]:6.2f} us   (runs: {', '.join(f'{v:.2f}' for v in figures[mode])})")
    print(f"  remote / local = {median['remote'] / median['local']:.2f}x, "
          f"remote / baseline = {median['remote'] / median['baseline']:.2f}x")
    print(f"lag from log_metric until the server answers the point: median {statistics.median(lags):.2f} s, "
          f"max {max(lags):.2f} s over {len(lags)} points")
    print(f"end() of a {options.calls:,}-point run: local median {statistics.median(ends['local']):.2f} s, "
          f"remote median {statistics.median(ends['remote']):.2f} s (after the lag probes: not comparable)")
    print(f"1,000,000 points with LABBOOK_HOST: end() {big['end_s']:.2f} s; queryable on the server "
          f"{big['queryable_s']:.2f} s after end() was called")


if __name__ == "__main__":
    main()
