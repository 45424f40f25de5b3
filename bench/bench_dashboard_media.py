"""The dashboard's media cursor and lineage graph, timed in Chromium against a real server.

``.venv/bin/python bench/bench_dashboard_media.py [--quick]`` logs three runs of 100 image steps
each (128x128 RGB, a different picture per step) and a three-run lineage graph of exactly 1,000
nodes into a fresh home, starts ``labbook ui`` on a free port and drives Debian's Chromium
(Playwright) through it:

- **Scrubbing**: on ``#/media?run=a&run=b&run=c``, press → once per step. Each figure is the time,
  measured inside the page, from the key press to every image of the panel showing the new step
  fully decoded (``img.complete``, ``naturalWidth > 0``, ``decode()`` resolved), then one frame
  painted. Stepping one mark at a time finds the images prefetched (±2 marks); random jumps of
  the cursor do not, and are reported beside them. Target (docs/dashboard.md): <= 150 ms.
- **Lineage**: ``#/lineage?run=<middle>&depth=2&cluster=0`` (1,000 nodes, 1,994 edges, nothing
  clustered): the layout's time in its Web Worker, and from the start of the layout to the first
  frame painted with the graph, over fresh page loads; and the longest task on the main thread
  meanwhile (``longtask`` entries). Target: <= 500 ms.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed(home: Path, steps: int) -> dict[str, str]:
    import numpy as np

    os.environ["LABBOOK_HOME"] = str(home)
    from labbook.tracking import Run

    quiet = dict(install_handlers=False, track_env=False, track_code=False, track_logs=False, collect_resources=False)
    uuids = {}
    rng = np.random.default_rng(0)
    for name in "abc":
        run = Run(project="bench", name=f"scrub-{name}", **quiet)
        for step in range(steps):
            picture = (rng.random((128, 128, 3)) * 64 + step * 1.9).astype(np.uint8)
            run.log_image(picture, name="frame", step=step)
        run.end()
        uuids[name] = run.uuid
    fan = Run(project="graph", name="fan-out", **quiet)
    fan.log_artifact_lineage([{"name": f"part-{i}", "kind": "data", "path": f"/data/part-{i}", "is_input": False}
                              for i in range(500)])
    fan.end()
    mid = Run(project="graph", name="middle", **quiet)
    mid.log_artifact_lineage([{"name": f"part-{i}", "kind": "data", "path": f"/data/part-{i}", "is_input": True}
                              for i in range(500)]
                             + [{"name": f"piece-{i}", "kind": "data", "path": f"/data/piece-{i}", "is_input": False}
                                for i in range(497)])
    mid.end()
    last = Run(project="graph", name="fan-in", **quiet)
    last.log_artifact_lineage([{"name": f"piece-{i}", "kind": "data", "path": f"/data/piece-{i}", "is_input": True}
                               for i in range(497)])
    last.end()
    uuids["graph"] = mid.uuid
    return uuids


# In the page: press a key (or set the cursor), then wait until every image of the panel shows
# `step`, decoded, and one more frame is painted. Returns milliseconds.
MOVE = """async ([how, step]) => {
    const began = performance.now();
    if (how === 'key') window.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight', bubbles: true}));
    else { const u = new URL(location.href); const q = new URLSearchParams(u.hash.split('?')[1]); q.set('step', step);
           history.replaceState(null, '', u.pathname + '#/media?' + q.toString()); window.dispatchEvent(new PopStateEvent('popstate')); }
    const ready = () => {
        const imgs = [...document.querySelectorAll('section[data-panel="image:frame"] img')];
        return imgs.length === 3 && imgs.every(i => i.dataset.step === String(step) && i.complete && i.naturalWidth > 0);
    };
    for (;;) {
        if (ready()) {
            await Promise.all([...document.querySelectorAll('section[data-panel="image:frame"] img')].map(i => i.decode().catch(() => null)));
            await new Promise(r => requestAnimationFrame(() => r(null)));
            return performance.now() - began;
        }
        await new Promise(r => setTimeout(r, 1));
        if (performance.now() - began > 20000) throw new Error('images did not update within 20 s');
    }
}"""


def describe(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)]  # nearest rank
    return f"median {statistics.median(ordered):6.1f} ms   p95 {p95:6.1f} ms   max {ordered[-1]:6.1f} ms   (n={len(ordered)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 image steps, 2 lineage loads")
    args = parser.parse_args()
    quick = args.quick or os.environ.get("LABBOOK_BENCH_QUICK") == "1"
    steps = 30 if quick else 100
    loads = 2 if quick else 5
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="labbook-bench-dashboard-") as tmp:
        home = Path(tmp) / ".labbook"
        started = time.perf_counter()
        uuids = seed(home, steps)
        print(f"logged 3 runs x {steps} image steps and a 1,000-node lineage graph in {time.perf_counter() - started:.1f} s")
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "LABBOOK_HOME": str(home)}
        server = subprocess.Popen([sys.executable, "-m", "labbook.cli.main", "ui", "--no-browser", "--port", str(port)],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    urllib.request.urlopen(f"{base}/api/v1/health", timeout=2)
                    break
                except OSError:
                    time.sleep(0.1)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                     args=["--no-sandbox", "--disable-gpu", "--headless"])
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                runs = "&".join(f"run={uuids[n]}" for n in "abc")
                page.goto(f"{base}/#/media?{runs}&step=0")
                page.wait_for_function("() => [...document.querySelectorAll('section[data-panel=\"image:frame\"] img')]"
                                       ".filter(i => i.complete && i.naturalWidth > 0).length === 3")
                page.locator("h1").click()
                stepping = [page.evaluate(MOVE, ["key", step]) for step in range(1, steps)]
                # random jumps in a fresh context: nothing cached, only the ±2 prefetch helps
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                fresh = context.new_page()
                fresh.goto(f"{base}/#/media?{runs}&step=0")
                fresh.wait_for_function("() => [...document.querySelectorAll('section[data-panel=\"image:frame\"] img')]"
                                        ".filter(i => i.complete && i.naturalWidth > 0).length === 3")
                order = list(range(3, steps))
                random.Random(1).shuffle(order)
                jumps = [fresh.evaluate(MOVE, ["url", step]) for step in order[:30]]
                context.close()
                print(f"scrub 3 runs x {steps} image steps, -> one mark (prefetched): {describe(stepping)}")
                print(f"cursor jumps to random steps (not prefetched):    {describe(jumps)}")
                layout, painted, longest = [], [], []
                for _ in range(loads):
                    graph = browser.new_page(viewport={"width": 1400, "height": 900})
                    graph.add_init_script("""window.__longest = 0; new PerformanceObserver(l => { for (const e of l.getEntries())
                        window.__longest = Math.max(window.__longest, e.duration); }).observe({type: 'longtask', buffered: true});""")
                    graph.goto(f"{base}/#/lineage?run={uuids['graph']}&depth=2&cluster=0")
                    view = graph.locator(".lineage-view[data-state=ready]")
                    view.wait_for(timeout=120_000)
                    assert view.get_attribute("data-nodes") == "1000", view.get_attribute("data-nodes")
                    layout.append(float(view.get_attribute("data-layout-ms")))
                    painted.append(float(view.get_attribute("data-total-ms")))
                    longest.append(graph.evaluate("window.__longest"))
                    graph.close()
                print(f"lineage 1,000 nodes: layout in the worker:          {describe(layout)}")
                print(f"lineage 1,000 nodes: layout start -> painted:       {describe(painted)}")
                print(f"lineage 1,000 nodes: longest main-thread task:      {describe(longest)}")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
