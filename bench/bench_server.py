"""The server's chart request: a 1M-point metric with one spike, downsampled to 2,000 buckets.

``.venv/bin/python bench/bench_server.py [--quick]`` logs the series into a fresh home, starts
``labbook server`` as its own process on a free port, and times GET .../metrics/series with
``points=2000`` (full range), a 10% zoom, and a 1,000-point zoom (served raw). It reports the
server-side time (the response's ``Server-Timing`` header: from the request's arrival to the
first byte of the answer) of the first request (cold: the series is read from its run folder)
and the median and p95 of the next N (warm: the server's series cache answers a zoom without
re-reading), the client's wall time, and checks the spike is in every answer. Target (docs/server.md): full range <= 50 ms server-side.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k points and 10 requests")
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    quick = args.quick or os.environ.get("LABBOOK_BENCH_QUICK") == "1"
    points = 100_000 if quick else 1_000_000
    requests = 10 if quick else args.requests
    import httpx

    with tempfile.TemporaryDirectory(prefix="labbook-bench-server-") as tmp:
        home = Path(tmp) / ".labbook"
        os.environ["LABBOOK_HOME"] = str(home)
        from labbook import tokens
        from labbook.tracking import Run

        spike_at = points * 2 // 3
        started = time.perf_counter()
        with Run(project="bench", install_handlers=False, track_env=False, track_code=False, track_logs=False,
                 collect_resources=False) as run:
            for step in range(points):
                run.log_metric("loss", 1.0 / (1 + step) if step != spike_at else 1e6, step=step)
        print(f"logged {points:,} points in {time.perf_counter() - started:.1f} s")
        token, _ = tokens.create_token("bench", "read")
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        server = subprocess.Popen([sys.executable, "-m", "labbook.cli.main", "server", "--port", str(port),
                                   "--log-level", "warning"], env=env)
        try:
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=60,
                                  headers={"Authorization": f"Bearer {token}"})
            for _ in range(600):
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            client.get("/projects").raise_for_status()  # the first API call opens the catalog
            cases = [
                ("full range, points=2000", {"points": 2000}),
                ("10% zoom, points=2000", {"points": 2000, "x_min": spike_at - points // 20,
                                           "x_max": spike_at + points // 20}),
                ("1,000-point zoom (raw)", {"points": 2000, "x_min": spike_at - 500, "x_max": spike_at + 499}),
            ]
            print(f"{'request':<28}{'cold':>10}{'warm median':>13}{'warm p95':>10}{'wall median':>13}{'bytes':>10}")
            for label, params in cases:
                server_ms, wall_ms, size = [], [], 0
                for index in range(requests + 1):
                    begin = time.perf_counter()
                    answer = client.get(f"/runs/{run.uuid}/metrics/series", params={"name": "loss", **params})
                    wall = (time.perf_counter() - begin) * 1000
                    answer.raise_for_status()
                    body = answer.json()
                    spike = max(body["y"]) if body["raw"] else max(body["max"])
                    assert spike == 1e6, f"{label}: the spike was lost"
                    if index == 0:
                        cold = float(answer.headers["server-timing"].split("dur=")[1])
                        continue
                    server_ms.append(float(answer.headers["server-timing"].split("dur=")[1]))
                    wall_ms.append(wall)
                    size = len(answer.content)
                p95 = sorted(server_ms)[max(0, int(len(server_ms) * 0.95) - 1)]
                print(f"{label:<28}{cold:>7.1f} ms{statistics.median(server_ms):>10.1f} ms{p95:>7.1f} ms"
                      f"{statistics.median(wall_ms):>10.1f} ms{size:>10,}")
            print(f"series: {points:,} points, spike at step {spike_at:,} kept in every answer")
        finally:
            server.terminate()
            server.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
