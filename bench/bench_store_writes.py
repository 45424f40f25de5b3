"""Time per JSON write on a server with an object store, for a run of many series.

``.venv/bin/python bench/bench_store_writes.py [--quick] [--series 2000 10000] [--stores folder s3]
[--pairs 3] [--writes 10] [--base-src PATH]`` builds, per store and size, a run of N metric series
written through ``ServerData.write`` (what ``POST /api/v1/runs/{uuid}/metrics`` runs) into a server
home with ``LABBOOK_STORE`` (a folder, or a bucket on moto's S3 server started on loopback), then
times single-metric writes (one point of one metric each) in fresh processes: one write first
(the process's first refresh of the run, reported apart as "first"), then ``--writes`` timed
ones, median. With ``--base-src`` (another checkout's ``src``, e.g. ``git archive`` of main) the
processes alternate between that code and this checkout's, ``--pairs`` times, on the same run:
a same-machine A/B. Setup (writing the N series) is not a figure.
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
PROJECT = "bench"


def _settings(home: Path, store: str):
    from labbook.config import Settings

    return Settings.load({"store": store}, home=home)


def setup(home: Path, store: str, series: int) -> str:
    import uuid as uuid_module

    from labbook.server.data import FULL, ServerData

    data = ServerData(_settings(home, store))
    run_id = uuid_module.uuid4().hex
    try:
        data.create_run(FULL, run_id, PROJECT, f"{series} series", None, [], {"lr": 0.1})

        def many(run) -> None:
            for i in range(series):
                run.log_metric(f"m{i:05d}", float(i), step=0)

        data.write(FULL, run_id, many)
    finally:
        data.close()
    return run_id


def worker(home: Path, store: str, run_id: str, writes: int) -> dict:
    from labbook.server.data import FULL, ServerData

    data = ServerData(_settings(home, store))
    try:
        times = []
        for i in range(writes + 1):
            step = time.time_ns() // 1000
            start = time.perf_counter()
            data.write(FULL, run_id, lambda run, s=step, v=float(i): run.log_metric("m00005", v, step=s))
            times.append(time.perf_counter() - start)
    finally:
        data.close()
    return {"first": times[0], "median": statistics.median(times[1:]), "times": times[1:]}


def _moto() -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = ("import time; from moto.server import ThreadedMotoServer; "
            f"s = ThreadedMotoServer(ip_address='127.0.0.1', port={port}, verbose=False); s.start(); "
            "time.sleep(10**6)")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    import urllib.request

    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=1)
            break
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.1)
    return process, url


def _run(mode: str, src: Path, env: dict, *args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, mode, *args], env={**env, "PYTHONPATH": str(src)},
                          capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", default="bench", choices=["bench", "setup", "worker"])
    parser.add_argument("--series", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--stores", nargs="+", default=["folder", "s3"], choices=["folder", "s3"])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--writes", type=int, default=10)
    parser.add_argument("--base-src", type=Path, default=None, help="another checkout's src: the A side")
    parser.add_argument("--quick", action="store_true", help="2,000 series, folder store, 1 pair")
    parser.add_argument("--home", type=Path)
    parser.add_argument("--store")
    parser.add_argument("--run")
    args = parser.parse_args()
    if args.mode == "setup":
        print(json.dumps({"run": setup(args.home, args.store, args.series[0])}))
        return
    if args.mode == "worker":
        print(json.dumps(worker(args.home, args.store, args.run, args.writes)))
        return
    if args.quick:
        args.series, args.stores, args.pairs = [2000], ["folder"], 1
    sides = ([("base", args.base_src.resolve())] if args.base_src else []) + [("this", SRC)]
    rows = []
    moto = None
    try:
        for kind in args.stores:
            env = dict(os.environ)
            if kind == "s3":
                if moto is None:
                    moto = _moto()
                env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                           AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=moto[1])
            for series in args.series:
                with tempfile.TemporaryDirectory(prefix="labbook-bench-store-") as tmp:
                    home = Path(tmp) / "home" / ".labbook"
                    if kind == "s3":
                        import s3fs

                        bucket = f"bench-{os.getpid()}-{series}"
                        s3fs.S3FileSystem(client_kwargs={"endpoint_url": moto[1]}, key="testing",
                                          secret="testing").mkdir(bucket)
                        store = f"s3://{bucket}/store"
                    else:
                        store = str(Path(tmp) / "objects")
                    started = time.perf_counter()
                    run_id = _run("setup", SRC, env, "--home", str(home), "--store", store,
                                  "--series", str(series))["run"]
                    print(f"{kind} store, {series:,} series: set up in {time.perf_counter() - started:.0f} s",
                          flush=True)
                    for pair in range(args.pairs):
                        for side, src in sides:
                            found = _run("worker", src, env, "--home", str(home), "--store", store, "--run", run_id,
                                         "--writes", str(args.writes))
                            rows.append((kind, series, side, pair, found))
                            print(f"  pair {pair + 1} {side}: median {found['median'] * 1000:.1f} ms, "
                                  f"first {found['first'] * 1000:.0f} ms", flush=True)
    finally:
        if moto is not None:
            moto[0].kill()
    print("\n| store | series | code | median ms per write (each pair) | first write ms |")
    print("|---|---:|---|---|---|")
    for kind in args.stores:
        for series in args.series:
            for side, _src in sides:
                found = [r[4] for r in rows if r[:3] == (kind, series, side)]
                medians = ", ".join(f"{f['median'] * 1000:.1f}" for f in found)
                firsts = ", ".join(f"{f['first'] * 1000:.0f}" for f in found)
                print(f"| {kind} | {series:,} | {side} | {medians} | {firsts} |")


if __name__ == "__main__":
    main()
