"""The dashboard in a real browser (Debian's Chromium through Playwright): how long until it shows.

``.venv/bin/python bench/bench_dashboard.py [--backend sqlite|postgresql|both] [--repeat N] [--only TEXT] [--timeline]``

Uses the home that ``bench/seed_runs.py --home build/dashboard-scale`` builds (built here when
missing; it takes minutes): project ``scale`` (100,000 runs x 20 params x 20 metrics, seeded
through the catalog), ``scale-10k`` (10,000 such runs, added here when missing) and ``charts``
(a 1,000,000-point metric with one spike; 100 runs x 10,000 points). For PostgreSQL it makes a
fresh database, indexes the run folders and seeds the same rows into it, and drops it at the end;
with ``--database NAME`` it uses that database instead, made and seeded on the first run only and
kept (drop it yourself when done), so repeated measurements skip the minutes of seeding.

Each figure starts its own ``labbook ui`` process and a fresh browser profile (cold: nothing
cached in the server or the browser), and is timed from ``page.goto`` to:

* first painted row: the first runs-table row is in the DOM and a frame has been painted;
* 1M-point chart: the chart reports its line drawn (``data-drawn``) and a frame has been painted;
* compare 100 runs: the chart reports 100 lines drawn.

With ``--timeline``, each load's requests (start, first byte, end, the server's ``Server-Timing``,
bytes on the wire and unpacked), paints and main-thread tasks over 50 ms are printed, in page
milliseconds: where a figure's time goes.

It also prints the runs page's initial JavaScript, gzipped (the entry chunk, the runs page's
chunk and what they import). MLflow's UI is not measured here (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import seed_runs  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAINTED = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))"
TARGETS = {"first row 100k": 1.0, "1M-point chart": 1.0, "compare 100 runs": 2.0}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(home: Path, catalog: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABBOOK_")}
    env["LABBOOK_HOME"] = str(home)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    if catalog:
        env["LABBOOK_CATALOG_URL"] = catalog
    return env


@contextlib.contextmanager
def server(home: Path, env: dict[str, str]):
    port = free_port()
    labbook = Path(sys.executable).with_name("labbook")
    command = [str(labbook), "ui", "--no-browser", "--port", str(port)] if labbook.exists() else \
        [sys.executable, "-m", "labbook.cli.main", "ui", "--no-browser", "--port", str(port)]
    process = subprocess.Popen(command, env=env, cwd=home.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/v1/health", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"labbook ui did not start (exit code {process.poll()}): {' '.join(command)}") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


# Registered before the page's own scripts: main-thread tasks over 50 ms, kept for the timeline.
LONG_TASKS = ("window.__longTasks = []; new PerformanceObserver((list) => window.__longTasks.push("
              "...list.getEntries().map((e) => [e.startTime, e.duration]))).observe({type: 'longtask', buffered: true});"
              # and when the first runs-table row entered the DOM (before its frame was painted)
              "new MutationObserver((_, observer) => { if (document.querySelector('.rt-row[data-uuid]')) {"
              " window.__firstRow = performance.now(); observer.disconnect(); } })"
              ".observe(document, {childList: true, subtree: true});")
TIMELINE = """() => ({
  nav: performance.getEntriesByType('navigation').map((e) => ({start: e.startTime, responseEnd: e.responseEnd,
       domContentLoaded: e.domContentLoadedEventEnd})),
  resources: performance.getEntriesByType('resource').map((e) => ({name: e.name, start: e.startTime,
       requestStart: e.requestStart, responseStart: e.responseStart, end: e.responseEnd, wire: e.transferSize,
       body: e.decodedBodySize, server: e.serverTiming.map((t) => t.duration)})),
  paints: performance.getEntriesByType('paint').map((e) => [e.name, e.startTime]),
  longTasks: window.__longTasks || [],
  firstRow: window.__firstRow ?? null,
})"""


def print_timeline(timeline: dict, ready_at: float) -> None:
    """The page's cold load, in page milliseconds: requests (start, first byte, end; server time and
    bytes), paints and main-thread tasks over 50 ms, then when the figure's condition held."""
    for nav in timeline["nav"]:
        print(f"    {0:7.0f} navigation: document at {nav['responseEnd']:.0f}, DOMContentLoaded {nav['domContentLoaded']:.0f}")
    for r in sorted(timeline["resources"], key=lambda r: r["start"]):
        name = r["name"].split("://", 1)[-1].split("/", 1)[-1][:int(os.environ.get("LABBOOK_BENCH_URL_CHARS", "90"))]
        server = f" server {r['server'][0]:.0f} ms" if r["server"] else ""
        print(f"    {r['start']:7.0f} -> {r['responseStart']:7.0f} -> {r['end']:7.0f}  /{name}  "
              f"({r['wire']} B wire, {r['body']} B){server}")
    for name, at in timeline["paints"]:
        print(f"    {at:7.0f} {name}")
    for at, duration in timeline["longTasks"]:
        print(f"    {at:7.0f} long task {duration:.0f} ms")
    if timeline.get("firstRow") is not None:
        print(f"    {timeline['firstRow']:7.0f} first runs-table row in the DOM")
    print(f"    {ready_at:7.0f} ready and painted")


def timed(base: str, path: str, ready: str, timeline: bool = False) -> float:
    """Seconds from goto(path) to ``ready`` (a JS predicate) holding and a frame painted, in a fresh
    profile; with ``timeline``, the page's load is printed too (``print_timeline``)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, headless=True,
                                                                args=ARGS, viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(120_000)
        if timeline:
            page.add_init_script(LONG_TASKS)
        start = time.perf_counter()
        page.goto(base + path)
        page.wait_for_function(ready, polling="raf")
        painted_at = page.evaluate(PAINTED)
        seconds = time.perf_counter() - start
        if timeline:
            print_timeline(page.evaluate(TIMELINE), painted_at)
        context.close()
    return seconds


def initial_js_kb() -> float:
    static = ROOT / "src" / "labbook" / "dashboard" / "static"
    manifest = json.loads((static / ".vite" / "manifest.json").read_text())
    seen: set[str] = set()
    todo = [next(k for k, v in manifest.items() if v.get("isEntry")), "src/pages/Runs.tsx"]
    while todo:
        key = todo.pop()
        if key not in seen:
            seen.add(key)
            todo.extend(manifest[key].get("imports", []))
    files = [manifest[k]["file"] for k in seen if manifest[k]["file"].endswith(".js")]
    return sum(len(gzip.compress((static / f).read_bytes(), 9)) for f in files) / 1024


@contextlib.contextmanager
def backend(name: str, home: Path, database: str | None = None):
    """The servers' environment for ``name``; on PostgreSQL a seeded database: a fresh one dropped
    at the end, or ``database``, kept, and seeded only when it does not exist yet."""
    if name == "sqlite":
        yield child_env(home, None)
        return
    import sqlalchemy as sa

    admin_url = os.environ.get("LABBOOK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    db = database or f"labbook_bench_{secrets.token_hex(4)}"
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", db):
        raise SystemExit(f"--database {db!r}: use lower-case letters, digits and underscores, e.g. labbook_bench_kept.")
    url = admin_url.rsplit("/", 1)[0] + f"/{db}"
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :db"), {"db": db}).first()
        if exists and database:
            print(f"  (postgresql: reusing the seeded database {db})")
            try:
                yield child_env(home, url)
            finally:
                admin.dispose()
            return
        if exists:
            raise SystemExit(f"Database {db} exists already; drop it or pass --database {db} to reuse it.")
        conn.execute(sa.text(f"CREATE DATABASE {db}"))
    seeded = False  # a kept database is dropped still when its seeding failed half-way
    try:
        env = child_env(home, url)
        code = ("import sys; sys.path.insert(0, sys.argv[1]); import seed_runs, labbook.catalog.indexer as i; "
                "from labbook.config import Settings; s = Settings.load({}); i.rebuild_home(s); "
                "seed_runs.seed_runs(s.catalog_url, 'scale', 100000); "
                "seed_runs.seed_runs(s.catalog_url, 'scale-10k', 10000, start=200000)")
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, str(ROOT / "bench")], env=env, check=True)
        # what autovacuum does soon after a load like this on a real server (planner statistics,
        # the visibility map for index-only scans); the test instance here runs with it off
        with sa.create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
        print(f"  (postgresql: indexed, seeded and vacuumed in {time.perf_counter() - began:.0f} s)")
        seeded = True
        yield env
    finally:
        if not (database and seeded):
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=3, help="Cold runs per figure (the median is reported).")
    parser.add_argument("--folder", default=str(ROOT / "build" / "dashboard-scale"))
    parser.add_argument("--json", help="Also write the figures here.")
    parser.add_argument("--database", help="PostgreSQL: this database, seeded on first use and kept (no reseeding).")
    parser.add_argument("--only", help="Only the figures whose label holds this text, e.g. 'first row 100k'.")
    parser.add_argument("--timeline", action="store_true",
                        help="Print each cold load's requests, paints and long tasks (to see where the time goes).")
    args = parser.parse_args()
    made = seed_runs.scale_home(args.folder)
    home = Path(args.folder) / ".labbook"
    marker = Path(args.folder) / "ready-10k.json"
    if not marker.exists():
        from labbook.config import Settings

        seed_runs.seed_runs(Settings.load({}, home=home).catalog_url, "scale-10k", 10_000, start=200_000)
        marker.write_text("{}")
    figures: dict[str, float] = {"runs page initial JS, KB gzipped": round(initial_js_kb(), 1)}
    first_row = "() => !!document.querySelector('.rt-row[data-uuid]')"
    drawn = "() => document.querySelector(\".panel[data-metric='loss'] .chart-canvas\")?.dataset.drawn === '{n}'"
    compare = "/compare?" + "&".join(f"run={u}" for u in made["compare"])
    cases = [("first row 10k", "/#/projects/scale-10k", first_row),
             ("first row 100k", "/#/projects/scale", first_row),
             ("first row 100k sorted by a metric", "/#/projects/scale?sort=metrics.loss.last", first_row),
             ("1M-point chart", f"/#/runs/{made['big']}", drawn.format(n=1)),
             ("compare 100 runs", "/#" + compare, drawn.format(n=len(made["compare"])))]
    cases = [case for case in cases if not args.only or args.only in case[0]]
    names = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for name in names:
        with backend(name, home, args.database) as env:
            for label, path, ready in cases:
                times = []
                for _ in range(args.repeat):
                    with server(home, env) as base:
                        times.append(timed(base, path, ready, args.timeline))
                median = statistics.median(times)
                key = f"{name}: {label}, s"
                figures[key] = round(median, 3)
                target = next((t for k, t in TARGETS.items() if label == k), None)
                verdict = "" if target is None else f"  (target <= {target:.1f} s: {'met' if median <= target else 'MISSED'})"
                print(f"{key:<50} {median:7.3f}   runs: {', '.join(f'{t:.3f}' for t in times)}{verdict}", flush=True)
    print(f"{'runs page initial JS, KB gzipped':<50} {figures['runs page initial JS, KB gzipped']:7.1f}   (budget 150)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
