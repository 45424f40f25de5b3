"""The dashboard in a real browser (Debian's Chromium through Playwright) against a real server.

The server runs as a child process on a free loopback port over a home seeded by a child
Python process. Its command is ``labbook ui --no-browser --port {port}`` from this checkout's
environment, or ``LABBOOK_TEST_SERVER_CMD`` (``{port}`` is replaced). Every test fails on a console
error or an uncaught exception in the page. Screenshots of each page go to build/screenshots/, or to
the folder ``LABBOOK_TEST_SCREENSHOTS`` names (docs/screenshots to refresh the documentation's).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port, python_env, require

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the tests skip, saying so (see the server fixture)
    expect = sync_playwright = None

ROOT = Path(__file__).resolve().parents[1]
# screenshots of each page; LABBOOK_TEST_SCREENSHOTS=docs/screenshots refreshes the documentation's
SHOTS = ROOT / os.environ.get("LABBOOK_TEST_SCREENSHOTS", "build/screenshots")  # relative: to the checkout
# read at import: every test's own home starts with the LABBOOK_* variables cleared
SERVER_CMD = os.environ.get("LABBOOK_TEST_SERVER_CMD")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.timeout(180)

MANY = 450  # runs in project "many": three pages of the runs table

# 12 runs in "demo" (lr 0.1 .. 1.2; four below 0.5), 2 in "other", MANY in "many". run-00 has
# its environment, captured output and resource samples.
# run-03's val/loss holds a NaN and an inf; run-05's train/loss has 3000 points with one spike, so it arrives downsampled.
SEED = f"MANY = {MANY}\n" + r"""
import math
import time
from labbook.tracking import Run

def make(project, i, steps=60):
    run = Run(project=project, name=f"run-{i:02d}", tags=["sweep"] + (["best"] if i == 2 else []),
              description=f"learning-rate sweep, point {i}", install_handlers=False, track_env=(i == 0),
              track_code=False, track_logs=(i == 0), collect_resources=(i == 0), resources_interval=0.2)
    if i == 0:
        print("epoch 1: hello from run-00", flush=True)
        time.sleep(1.5)  # a few resource samples
    run.log_inputs(lr=round(0.1 * (i + 1), 2), batch_size=32 * (1 + i % 2), dataset="mnist",
                   optimizer={"name": "adam" if i % 3 else "sgd", "momentum": 0.9, "betas": [0.9, 0.999]})
    n = 3000 if i == 5 else steps
    for step in range(n):
        loss = 2.0 * math.exp(-step * (0.02 + 0.01 * i) * 60 / n) + 0.05 * i
        if i == 5 and step == 1777:
            loss = 50.0
        metrics = {"train/loss": loss, "train/acc": 1 - loss / 3}
        if step % 10 == 0:
            val = loss * 1.1
            if i == 3 and step == 20:
                val = float("nan")
            if i == 3 and step == 40:
                val = float("inf")
            metrics["val/loss"] = val
        run.log_metrics(step=step, **metrics)
    run.log_outputs(accuracy=round(0.9 + 0.005 * i, 4))
    if i == 11:
        run.log_failed(reason="Diverged", message="loss went to inf")
    run.end()

for i in range(12):
    make("demo", i)
for i in range(2):
    make("other", 100 + i, steps=10)

# run-code: its code in a git repository (a branch, a remote, an uncommitted change), a command
# line, a readme in Markdown, and output on both streams at several levels
import logging, os, subprocess, sys
repo = os.path.abspath("repo")
os.makedirs(repo)
git = lambda *a: subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *a], cwd=repo,
                                check=True, capture_output=True)
git("init", "-q", "-b", "main")
with open(os.path.join(repo, "train.py"), "w") as f:
    f.write("lr = 0.1\nepochs = 3\n")
git("add", "train.py")
git("commit", "-q", "-m", "first")
git("checkout", "-q", "-b", "feature/lr-sweep")
git("remote", "add", "origin", "https://example.com/team/model.git")
with open(os.path.join(repo, "train.py"), "w") as f:
    f.write("lr = 0.05\nepochs = 3\n")
here, argv = os.getcwd(), sys.argv
os.chdir(repo)
sys.argv = ["train.py", "--lr", "0.05", "--note", "two words"]
run = Run(project="other", name="run-code", install_handlers=False, track_env=True, track_code=True,
          track_logs=True, collect_resources=False)
run.set_readme("# Sweep notes\n\nThe **lower** rate won.\n\n- first point\n- second point\n\n"
               "```\npython train.py --lr 0.05\n```\n\nSee [the paper](https://example.com/paper).\n", async_req=False)
print("epoch 1 done", flush=True)
print("a warning on stderr", file=sys.stderr, flush=True)
logging.basicConfig(level=logging.INFO)
logging.getLogger("train").info("info from logging")
logging.getLogger("train").error("an error from logging")
run.log_metrics(step=0, loss=1.0)
run.end()
sys.argv = argv  # the code and the environment are captured beside the run's start, not in it
os.chdir(here)

# project "live": a run whose process was killed (its heartbeat stopped: the server reads it as
# crashed after LABBOOK_CRASH_TIMEOUT)
child = subprocess.Popen([sys.executable, "-c", (
    "import sys, time\n"
    "from labbook.tracking import Run\n"
    "run = Run(project='live', name='killed-run', install_handlers=False, track_env=False, track_code=False,"
    " track_logs=False, collect_resources=False, flush_interval=0.1)\n"
    "run.log_metrics(step=0, loss=1.0)\n"
    "time.sleep(1.0)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n")], env={**os.environ, "LABBOOK_HEARTBEAT_INTERVAL": "0.2"}, stdout=subprocess.PIPE, text=True)
assert child.stdout.readline().strip() == "ready"
child.kill()
child.wait()
# project "wide": 1,500 param names; the 400 used by one run only are past the 1,000 most used
for i in range(3):
    run = Run(project="wide", name=f"wide-{i}", install_handlers=False, track_env=False, track_code=False,
              track_logs=False, collect_resources=False)
    run.log_inputs(**{f"p{k:04d}": k for k in range(1500 if i == 0 else 1100)})
    run.end()
for i in range(MANY):
    run = Run(project="many", name=f"many-{i:04d}", install_handlers=False, track_env=False, track_code=False,
              track_logs=False, collect_resources=False)
    run.log_inputs(index=i)
    run.log_metrics(step=0, score=i / MANY)
    run.end()
"""


def _server_command(port: int) -> list[str]:
    custom = SERVER_CMD
    if custom:
        return [part.replace("{port}", str(port)) for part in shlex.split(custom)]
    labbook = Path(sys.executable).with_name("labbook")
    has_ui = labbook.exists() and subprocess.run([str(labbook), "ui", "--help"], capture_output=True,
                                                 timeout=60).returncode == 0
    require(has_ui, "labbook server not available ('labbook ui' is not a command of this checkout)")
    return [str(labbook), "ui", "--no-browser", "--port", str(port)]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, ""


@contextlib.contextmanager
def serve(home: Path, env: dict[str, str]):
    """``labbook ui`` (or LABBOOK_TEST_SERVER_CMD) over ``home`` on a free port: its base URL."""
    from labbook.dashboard import static_dir

    require(static_dir() is not None, "the dashboard is not built (cd ui && npm ci && npm run build)")
    require(Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    require(sync_playwright is not None, "playwright is not installed (pip install playwright)")
    port = free_port()
    command = _server_command(port)
    log_path = home.parent / f"server-{port}.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(command, env=env, cwd=home.parent, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the server exited ({process.returncode}): "
                            f"{log_path.read_text(errors='replace')[-2000:]}")
            try:
                if _get(f"{base}/api/v1/health")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("the server did not answer /api/v1/health within 60 s")
        status, page = _get(f"{base}/")
        require(status == 200 and 'id="root"' in page, "the server does not serve the dashboard at /")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


@contextlib.contextmanager
def catalog_env(backend: str, home: Path):
    """The environment of a child process using ``home``, with a fresh PostgreSQL catalog
    (dropped afterwards) when ``backend`` is postgresql."""
    if backend == "sqlite":
        yield python_env(home)
        return
    from tests.test_catalog import fresh_postgres

    with fresh_postgres() as url:
        yield python_env(home, LABBOOK_CATALOG_URL=url)


# the server's: a running run whose heartbeat is older reads as crashed. The catalog's copy of a
# heartbeat comes with the run's summaries, every few seconds (5 s seen on a loaded machine): less
# than 20 s would read a live run as crashed now and then, and stop the table's live re-reads
CRASH_TIMEOUT = 20


class Served(str):
    """The server's base URL, with the environment of a child process logging into its home."""

    env: dict[str, str]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp(f"dashboard-{request.param}") / ".labbook"
    home.mkdir(parents=True)
    with catalog_env(request.param, home) as env:
        subprocess.run([sys.executable, "-c", SEED], env=env, check=True, timeout=180, cwd=home.parent)
        # the timeout is at least 3 heartbeat intervals, the reader's where the catalog holds none
        with serve(home, {**env, "LABBOOK_CRASH_TIMEOUT": str(CRASH_TIMEOUT), "LABBOOK_HEARTBEAT_INTERVAL": "1"}) as base:
            served = Served(base)
            served.env = env
            yield served


def start_server(home: Path):
    """``labbook ui`` on a free port over ``home`` (already seeded, its own SQLite catalog); yields its base URL."""
    return serve(home, python_env(home))


@pytest.fixture(scope="module")
def browser_context(server: str, tmp_path_factory: pytest.TempPathFactory):
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 900})
        context.set_default_timeout(20_000)
        yield context
        context.close()


@pytest.fixture
def page(browser_context, server: str):
    """A fresh tab; the test fails if the page logs a console error or throws."""
    page = browser_context.new_page()
    problems: list[str] = []
    page.expected_errors = []  # substrings of console errors a test provokes on purpose

    def on_console(message) -> None:
        if message.type == "error" and not any(e in message.text for e in page.expected_errors):
            problems.append(f"console.{message.type}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.base = server
    yield page
    page.close()
    assert not problems, "\n".join(problems)


def shot(page, name: str, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def rows(page) -> list[str]:
    return page.locator(".rt-row[data-uuid] .rt-cell a").all_inner_texts()


def colored_pixels(page, selector: str) -> list[int]:
    """For each canvas under ``selector``: how many opaque pixels are coloured (the run colours
    are; uPlot's grid, axes and labels are grey)."""
    return page.eval_on_selector_all(selector, """canvases => canvases.map(c => {
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < data.length; i += 4) {
            const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
            if (a > 200 && Math.max(r, g, b) - Math.min(r, g, b) > 40) n++;
        }
        return n;
    })""")


def assert_drawn(page, selector: str = ".panel canvas", within: float = 20.0) -> None:
    """Every chart under ``selector`` shows a series (charts draw after their data arrives)."""
    deadline = time.monotonic() + within
    while True:
        counts = colored_pixels(page, selector)
        if counts and all(n > 50 for n in counts):
            return
        assert time.monotonic() < deadline, f"a chart drew no series: coloured pixels per chart {counts}"
        page.wait_for_timeout(200)


def test_projects_page_lists_projects_and_opens_runs(page):
    page.goto(page.base + "/")
    table = page.locator("table.projects")
    table.wait_for()
    assert table.locator("tbody td a").all_inner_texts() == ["demo", "live", "many", "other", "wide"]
    demo = table.locator("tr", has_text="demo")
    assert demo.locator("td.num").inner_text() == "12"
    assert re.fullmatch(r"just now|\d+ min ago", demo.locator("td").nth(2).inner_text())  # last activity
    shot(page, "projects")
    demo.locator("a").click()
    page.wait_for_url("**/#/projects/demo*")
    page.locator(".rt-row[data-uuid]").first.wait_for()
    assert sorted(rows(page)) == [f"run-{i:02d}" for i in range(12)]


def test_runs_table_virtualises_rows_and_pages_as_it_scrolls(page):
    page.goto(page.base + "/#/projects/many?sort=name")
    page.locator(".rt-row[data-uuid]").first.wait_for()
    counts = page.locator(".counts")
    # a screenful (50 rows) first, then pages of 200 as the end of the loaded rows comes near
    assert re.match(r"^(50|250)\+ runs", counts.inner_text()), counts.inner_text()
    for _ in range(30):
        in_dom = page.locator(".rt-row[data-uuid]").count()
        assert 0 < in_dom <= 100
        if counts.inner_text().startswith(f"{MANY} runs"):
            break
        page.locator(".runs-table").evaluate("el => { el.scrollTop = el.scrollHeight; }")
        page.wait_for_timeout(300)
    assert counts.inner_text().startswith(f"{MANY} runs")
    page.locator(".runs-table").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    page.get_by_role("link", name=f"many-{MANY - 1:04d}").wait_for()
    assert page.locator(".rt-row[data-uuid]").count() <= 100

    # columns are virtualised too: 80 chosen, a screenful in the DOM
    wide = "&".join(f"col=params.key{i}" for i in range(80))
    page.goto(page.base + f"/#/projects/many?sort=name&col=name&col=params.index&{wide}")
    page.get_by_role("columnheader", name="index").wait_for()
    headers = page.get_by_role("columnheader").count()
    assert 5 < headers < 40
    page.locator(".runs-table").evaluate("el => { el.scrollLeft = el.scrollWidth; }")
    page.get_by_role("columnheader", name="key79").wait_for()
    assert page.get_by_role("columnheader", name="index").count() == 0


def test_runs_filter_sort_completion_and_errors(page):
    page.goto(page.base + "/#/projects/demo")
    page.locator(".rt-row[data-uuid]").first.wait_for()
    box = page.get_by_label("Filter runs")

    box.fill("params.l")
    options = page.get_by_role("option")
    options.first.wait_for()
    assert "params.lr" in options.all_inner_texts()

    box.fill("params.lr < 0.5")
    box.press("Enter")
    expect(page.locator(".rt-row[data-uuid]")).to_have_count(4)
    assert sorted(rows(page)) == ["run-00", "run-01", "run-02", "run-03"]
    assert "filter=params.lr" in page.url

    page.expected_errors.append("status of 400 (Bad Request)")  # the browser logs the API's answer
    box.fill("params.lr <")
    box.press("Enter")
    error = page.locator(".filter-error")
    error.wait_for()
    assert error.inner_text().strip()

    # a metric column chosen in the chooser, then sorted on the server by a click on its header
    page.goto(page.base + "/#/projects/demo")
    page.locator(".rt-row[data-uuid]").first.wait_for()
    page.get_by_role("button", name="Columns").click()
    page.get_by_label("Search columns").fill("train/loss min")
    page.get_by_role("dialog").get_by_role("checkbox").first.click()
    page.get_by_role("button", name="Done").click()
    header = page.get_by_role("columnheader", name="train/loss (min)")
    header.wait_for()
    assert "col=metrics.train" in page.url
    header.click()
    page.wait_for_url("**sort=metrics.train*")
    expect(header).to_have_attribute("aria-sort", "ascending")
    page.wait_for_timeout(300)
    values = [float(v) for v in page.locator(".rt-row[data-uuid] [data-col='metrics.train/loss.min']").all_inner_texts()]
    assert len(values) == 12 and values == sorted(values)
    header.click()
    page.wait_for_url("**sort=-metrics.train*")
    expect(header).to_have_attribute("aria-sort", "descending")
    page.wait_for_timeout(300)
    values = [float(v) for v in page.locator(".rt-row[data-uuid] [data-col='metrics.train/loss.min']").all_inner_texts()]
    assert values == sorted(values, reverse=True)

    # the whole view comes back from the URL
    page.reload()
    page.get_by_role("columnheader", name="train/loss (min)").wait_for()
    assert page.locator("[aria-sort=descending]").count() == 1

    columns = ["name", "status", "created_at", "duration", "params.lr", "params.batch_size", "params.optimizer.name",
               "metrics.train/loss.min", "metrics.val/loss.last", "outputs.accuracy", "tags"]
    view = "&".join(f"col={c}" for c in columns)
    page.goto(page.base + f"/#/projects/demo?sort=metrics.train/loss.min&{view}")
    page.get_by_role("columnheader", name="optimizer.name").wait_for()
    page.get_by_label("Select run-03").click()
    page.get_by_label("Select run-04").click()
    page.get_by_role("button", name="Compare (2)").wait_for()
    assert page.url.count("run=") == 2  # the selection is in the URL too
    shot(page, "runs")
    page.reload()
    expect(page.get_by_label("Select run-03")).to_be_checked()
    page.get_by_role("button", name="Compare (2)").wait_for()


def test_runs_table_opens_nested_params_into_leaves(page):
    """A dict-valued param (optimizer) is offered, shown, filtered and sorted by its leaves
    (optimizer.name), never as one column of JSON."""
    page.goto(page.base + "/#/projects/demo")
    leaf = page.get_by_role("columnheader", name="optimizer.name")
    leaf.wait_for()  # among the default columns (the project's most used params)
    headers = page.locator("[role=columnheader]").all_inner_texts()
    assert not [h for h in headers if h.strip().endswith("optimizer")], headers
    cells = page.locator(".rt-row[data-uuid] [data-col='params.optimizer.name']")
    expect(cells).to_have_count(12)
    assert sorted(set(cells.all_inner_texts())) == ["adam", "sgd"]
    assert not any("{" in t for t in page.locator(".rt-row[data-uuid] .rt-cell").all_inner_texts())

    leaf.click()  # ordered on the server by the value inside the param
    page.wait_for_url("**sort=params.optimizer.name*")
    expect(leaf).to_have_attribute("aria-sort", "ascending")
    expect(cells).to_have_text(["adam"] * 8 + ["sgd"] * 4)  # (newest first before: sgd at rows 3, 6, 9 and 12)

    box = page.get_by_label("Filter runs")
    box.fill("params.optimizer.na")
    expect(page.get_by_role("option").first).to_have_text("params.optimizer.name")  # completion by leaf
    box.fill("params.optimizer.name = 'sgd'")
    box.press("Enter")
    expect(page.locator(".rt-row[data-uuid]")).to_have_count(4)
    assert sorted(rows(page)) == ["run-00", "run-03", "run-06", "run-09"]
    page.locator(".runs-table").evaluate("(table) => { table.scrollLeft = 0; }")
    shot(page, "runs-nested-params")

    page.get_by_role("button", name="Columns").click()
    page.get_by_label("Search columns").fill("momentum")
    box = page.get_by_role("dialog").get_by_role("checkbox")
    expect(box).to_have_count(1)
    box.click()
    page.get_by_role("button", name="Done").click()
    page.get_by_role("columnheader", name="optimizer.momentum").wait_for()
    assert "col=params.optimizer.momentum" in page.url
    expect(page.locator(".rt-row[data-uuid] [data-col='params.optimizer.momentum']").first).to_have_text("0.9")


def test_run_page_draws_metric_charts(page):
    page.goto(page.base + "/#/projects/demo?filter=name%20%3D%20%27run-03%27")
    page.get_by_role("link", name="run-03").click()
    page.wait_for_url("**/#/runs/*")
    page.get_by_role("heading", name="Metrics").wait_for()
    assert page.locator(".overview").inner_text().count("learning-rate sweep") == 1
    panels = page.locator(".panel")
    assert sorted(panels.evaluate_all("ps => ps.map(p => p.dataset.metric)")) == ["train/acc", "train/loss", "val/loss"]
    # a group per prefix before the first '/'
    groups = page.locator(".metric-group > summary").all_inner_texts()
    assert [g.split()[0] for g in groups[:2]] == ["train", "val"]
    assert page.locator(".metric-group").first.locator(".panel").count() == 2
    page.locator(".panel canvas").nth(2).wait_for()
    assert_drawn(page)
    # the NaN and the inf of val/loss are reported, not dropped
    assert "2 non-finite" in page.locator(".panel[data-metric='val/loss'] .panel-info").inner_text()
    # nested params are shown and searchable
    page.get_by_label("Search params").fill("momentum")
    assert page.locator(".tree table").first.inner_text().count("momentum") == 1
    page.get_by_label("Search params").fill("")
    shot(page, "run", full_page=True)

    # hovering a chart shows the value at the cursor
    loss = page.locator(".panel[data-metric='train/loss']")
    loss.scroll_into_view_if_needed()
    box = loss.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(loss.locator(".chart-tip")).to_be_visible()
    assert re.search(r"\d\.\d", loss.locator(".chart-tip").inner_text())

    # smoothing and wall-clock time go into the URL and redraw
    page.get_by_label("smoothing").fill("0.6")
    page.wait_for_url("**smooth=0.6*")
    page.get_by_label("x-axis").select_option("wall")
    page.wait_for_url("**x=wall*")
    assert_drawn(page)

    # other x-axes and a log scale redraw from the server's data; the view goes into the URL
    page.get_by_label("x-axis").select_option("relative")
    page.wait_for_url("**x=relative*")
    page.get_by_label("log scale").click()  # the box follows the URL (check() reads the box at once)
    page.wait_for_url("**log=1*")
    expect(page.get_by_label("log scale")).to_be_checked()
    assert_drawn(page)

    # another metric of the run as x: each point sits at train/loss of the same step (acc = 1 - loss / 3)
    page.get_by_label("log scale").click()  # the box follows the URL: wait for the view, not the box
    page.wait_for_url(lambda url: "log=1" not in url)
    with page.expect_response(lambda r: "name=train%2Facc" in r.url and "x=metric%3Atrain%2Floss" in r.url) as answer:
        page.get_by_label("x-axis").select_option("metric:train/loss")
    page.wait_for_url("**x=metric*")
    series = answer.value.json()
    assert series["x_axis"] == "metric:train/loss" and series["raw"] and len(series["x"]) > 10
    assert all(abs(y - (1 - x / 3)) < 1e-9 for x, y in zip(series["x"], series["y"]))
    assert_drawn(page)


def test_the_first_charts_are_asked_for_by_the_route_once(page):
    """Opened cold, the run and compare pages' routes ask for the first panels' series before the
    page's code has run (sources.ts); the panels find those requests and do not repeat them: each
    metric's series is asked for exactly once, at about the width its panel has."""
    answer = page.request.get(page.base + "/api/v1/runs", params={"project": "demo", "order_by": "name", "limit": 3})
    uuids = [r["uuid"] for r in answer.json()["runs"]]
    assert len(uuids) == 3
    seen: list = []
    page.on("request", lambda r: seen.append(r) if "/series" in r.url else None)

    page.goto("about:blank")
    page.goto(page.base + f"/#/runs/{uuids[0]}")
    page.locator(".panel canvas").nth(2).wait_for()
    assert_drawn(page)
    asked = [re.search(r"name=([^&]+)", r.url).group(1) for r in seen if "/metrics/series" in r.url]
    assert sorted(asked) == ["train%2Facc", "train%2Floss", "val%2Floss"], asked
    width = page.locator(".panel").first.evaluate("p => p.clientWidth * devicePixelRatio")
    points = [int(re.search(r"points=(\d+)", r.url).group(1)) for r in seen]
    assert all(abs(p - width) <= 0.05 * width for p in points), (points, width)

    seen.clear()
    page.goto("about:blank")  # a cold load, not a change of the hash
    page.goto(page.base + "/#/compare?" + "&".join(f"run={u}" for u in uuids))
    page.locator(".panel canvas").nth(2).wait_for()
    assert_drawn(page)
    bodies = [r.post_data_json for r in seen if r.url.endswith("/series/query")]
    assert sorted(m for b in bodies for m in b["metrics"]) == ["train/acc", "train/loss", "val/loss"], bodies
    assert all(sorted(b["runs"]) == sorted(uuids) for b in bodies)


def test_run_page_shows_system_charts_and_logs(page):
    page.goto(page.base + "/#/projects/demo?filter=name%20%3D%20%27run-00%27")
    page.get_by_role("link", name="run-00").click()
    page.get_by_role("heading", name="System").wait_for()
    assert "python" in page.locator(".overview").inner_text().lower()
    system = page.locator(".metric-groups").nth(1)
    system.locator(".panel").first.scroll_into_view_if_needed()  # charts load when seen
    system.locator(".panel canvas").first.wait_for()
    names = set(system.locator(".panel").evaluate_all("ps => ps.map(p => p.dataset.metric)"))
    # CPU, memory, disk and network of the machine (GPU charts come with NVML and a GPU)
    assert {"cpu.percent", "memory.used", "disk.used", "network.sent_rate"} <= names, names
    # grouped by the part before the first dot, and written in their units
    groups = [g.split()[0] for g in system.locator(".metric-group > summary").all_inner_texts()]
    assert {"cpu", "disk", "memory", "network"} <= set(groups), groups
    memory = system.locator(".panel[data-metric='memory.used']")
    memory.scroll_into_view_if_needed()
    memory.locator("canvas").first.wait_for()
    box = memory.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.99, box["y"] + box["height"] / 2)
    expect(memory.locator(".chart-tip")).to_contain_text(re.compile(r"\d [kMGT]?B\b"))
    assert_drawn(page)
    page.locator(".logs-section summary").click()
    expect(page.get_by_label("Logs")).to_contain_text("hello from run-00")
    page.get_by_role("heading", name="System").evaluate("h => h.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)  # the charts coming into view draw
    shot(page, "run-system")


def test_zoom_rereads_full_resolution(page):
    page.goto(page.base + "/#/projects/demo?filter=name%20%3D%20%27run-05%27")
    page.get_by_role("link", name="run-05").click()
    panel = page.locator(".panel[data-metric='train/loss']")
    panel.locator("canvas").wait_for()
    panel.scroll_into_view_if_needed()  # the drag below happens where the chart is on screen
    info = panel.locator(".panel-info")
    assert "3000 points, min/max per bucket" in info.inner_text()
    box = panel.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.58, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.62, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    panel.get_by_role("button", name="reset zoom").wait_for()
    expect(info).not_to_contain_text("3000 points")
    points = int(info.inner_text().split(" ")[0])
    assert 0 < points < 3000


def test_compare_three_runs(page):
    page.goto(page.base + "/#/projects/demo?sort=name")
    page.locator(".rt-row[data-uuid]").first.wait_for()
    for name in ("run-00", "run-01", "run-02"):
        page.get_by_label(f"Select {name}").click()
        expect(page.get_by_label(f"Select {name}")).to_be_checked()
    page.get_by_role("button", name="Compare (3)").click()
    page.wait_for_url("**/#/compare?*")
    legend = page.get_by_role("list", name="Runs")
    legend.locator("li").nth(2).wait_for()
    assert legend.locator("li a").all_inner_texts() == ["run-00", "run-01", "run-02"]
    colours = legend.locator("i").evaluate_all("is => is.map(i => i.style.background)")
    assert len(set(colours)) == 3
    diff = page.locator("table.params-diff")
    keys = diff.locator("tbody td:first-child").all_inner_texts()
    assert "lr" in keys and "batch_size" in keys and "dataset" not in keys
    assert diff.locator("tbody tr", has_text="lr").locator("td.value").all_inner_texts() == ["0.1", "0.2", "0.3"]
    page.locator(".panel canvas").nth(2).wait_for()
    assert_drawn(page)
    assert page.locator(".panel .chart").first.get_attribute("data-series") == "3"
    # hovering a chart shows each run's value there
    box = page.locator(".panel[data-metric='train/loss'] .u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tip = page.locator(".panel[data-metric='train/loss'] .chart-tip")
    expect(tip).to_be_visible()
    assert all(name in tip.inner_text() for name in ("run-00", "run-01", "run-02"))
    shot(page, "compare")


def test_an_unknown_page_says_so(page):
    page.goto(page.base + "/#/no/such/page")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "No page at /no/such/page" in alert.inner_text()
    assert "[object Object]" not in alert.inner_text()
    page.get_by_role("link", name="Projects").click()
    page.locator("table.projects").wait_for()


def test_demo_flow_tags_in_place_groups_and_views(page):
    """Find the runs, filter, sort by a metric, open a run and see its charts, compare three runs
    (parallel coordinates, scatter, grouped bands); edit a tag in place."""
    page.goto(page.base + "/")
    page.get_by_role("link", name="demo").click()
    page.locator(".rt-row[data-uuid]").first.wait_for()
    assert "12 in all" in page.locator(".counts").inner_text()
    # the project's most used params and the last of its metrics are columns by default
    for header in ("lr", "batch_size", "train/loss (last)"):
        page.get_by_role("columnheader", name=header).wait_for()
    box = page.get_by_label("Filter runs")
    box.fill("params.lr < 0.5")
    box.press("Enter")
    expect(page.locator(".rt-row[data-uuid]")).to_have_count(4)
    expect(page.get_by_label("Matching runs")).to_contain_text("4 match of 12")
    page.get_by_role("columnheader", name="train/loss (last)").click()
    page.wait_for_url("**sort=metrics.train*")
    page.wait_for_timeout(300)
    values = [float(v) for v in page.locator(".rt-row[data-uuid] [data-col='metrics.train/loss.last']").all_inner_texts()]
    assert len(values) == 4 and values == sorted(values)

    # a tag added and removed in place, through the API
    page.locator(".runs-table").evaluate("el => { el.scrollLeft = 0; }")  # the header click scrolled right
    row = page.locator(".rt-row[data-uuid]", has_text="run-01")
    row.get_by_role("button", name="Add a tag").click()
    row.get_by_label("New tag").fill("keeper")
    row.get_by_label("New tag").press("Enter")
    expect(row.locator(".tags-cell")).to_have_attribute("data-tags", re.compile(r"^(sweep,keeper|keeper,sweep)$"))
    page.reload()
    row = page.locator(".rt-row[data-uuid]", has_text="run-01")
    expect(row.locator(".tags-cell")).to_have_attribute("data-tags", re.compile(r"^(sweep,keeper|keeper,sweep)$"))
    row.get_by_role("button", name="Remove tag keeper").click()
    expect(row.locator(".tags-cell")).to_have_attribute("data-tags", "sweep")

    # open a run: its charts draw
    page.get_by_role("link", name="run-02").click()
    page.wait_for_url("**/#/runs/*")
    page.locator(".panel canvas").first.wait_for()
    assert_drawn(page)
    page.go_back()

    for name in ("run-00", "run-01", "run-02"):
        page.get_by_label(f"Select {name}").click()
    page.get_by_role("button", name="Compare (3)").click()
    page.wait_for_url("**/#/compare?*")
    page.locator(".panel canvas").nth(2).wait_for()
    assert_drawn(page)
    parallel = page.get_by_role("img", name="Parallel coordinates")
    parallel.scroll_into_view_if_needed()
    assert parallel.locator("path[data-run]").count() == 3
    assert page.get_by_role("img", name="Scatter").locator("circle[data-run]").count() == 3
    page.get_by_label("Metric to plot").select_option("val/loss")
    page.wait_for_url("**metric=val*")
    shot(page, "compare-views", full_page=True)
    page.get_by_label("Group by").select_option("batch_size")
    page.wait_for_url("**group=batch_size*")
    page.wait_for_function("() => document.querySelector(\".panel[data-metric='train/loss'] .chart\")?.dataset.series === '2'")
    legend = page.get_by_role("list", name="Groups")
    expect(legend.locator("li")).to_have_count(2)
    assert legend.locator("li").all_inner_texts() == ["batch_size = 32 · 2 runs", "batch_size = 64 · 1 run"]
    assert len(set(legend.locator("i").evaluate_all("is => is.map(i => i.style.background)"))) == 2
    assert_drawn(page)
    page.get_by_label("Group by").evaluate("el => el.scrollIntoView({block: 'start'})")
    shot(page, "compare-grouped")

    # the groups over another metric as x: each group's mean of train/acc sits at train/loss of the
    # same step (acc = 1 - loss / 3, so every mean lies on that line)
    def grouped_acc(response):
        body = response.request.post_data_json if response.request.method == "POST" else None
        return "/series/groups" in response.url and body and body["metric"] == "train/acc" and body["x"] == "metric:train/loss"

    with page.expect_response(grouped_acc) as answer:
        page.get_by_label("x-axis").select_option("metric:train/loss")
    page.wait_for_url("**x=metric*")
    bands = answer.value.json()
    assert bands["x_axis"] == "metric:train/loss" and bands["group_by"] == "batch_size" and bands["missing"] == []
    assert sorted(g["value"] for g in bands["groups"]) == [32, 64]
    for group in bands["groups"]:
        points = [(x, m) for x, m in zip(group["x"], group["mean"]) if m is not None]
        assert len(points) >= 60 and all(abs(m - (1 - x / 3)) < 1e-9 for x, m in points)
    page.wait_for_function("() => document.querySelector(\".panel[data-metric='train/acc'] .chart\")?.dataset.series === '2'")
    assert_drawn(page)


def test_run_page_code_readme_diff_environment_and_logs(page):
    page.goto(page.base + "/#/projects/other?filter=name%20%3D%20%27run-code%27")
    page.get_by_role("link", name="run-code").click()
    page.wait_for_url("**/#/runs/*")
    overview = page.locator(".overview")
    expect(overview).to_contain_text("feature/lr-sweep")
    text = overview.inner_text()
    assert "https://example.com/team/model.git" in text and "(dirty)" in text
    assert "train.py --lr 0.05 --note 'two words'" in text
    assert re.search(r"Duration\s+\d+(\.\d+)? m?s", text), text
    history = page.get_by_label("Status history").locator("li").all_inner_texts()
    assert [h.split()[0] for h in history] == ["running", "succeeded"], history
    # the readme as Markdown, built as elements
    readme = page.locator(".readme")
    expect(readme.get_by_role("heading", name="Sweep notes")).to_be_visible()
    assert readme.locator("strong").inner_text() == "lower"
    assert readme.locator("li").all_inner_texts() == ["first point", "second point"]
    assert "python train.py --lr 0.05" in readme.locator("pre").inner_text()
    assert readme.get_by_role("link", name="the paper").get_attribute("href") == "https://example.com/paper"
    # the uncommitted change, coloured
    page.locator(".code-diff summary").click()
    expect(page.locator(".diff .add")).to_contain_text("lr = 0.05")
    expect(page.locator(".diff .del")).to_contain_text("lr = 0.1")
    page.locator(".environment summary").click()
    expect(page.locator(".environment")).to_contain_text("python")
    page.locator(".environment summary").click()  # closed again: hundreds of packages
    # logs: search, stream and level filters
    page.locator(".logs-section summary").click()
    logs = page.get_by_label("Logs")
    expect(logs).to_contain_text("an error from logging")
    assert "epoch 1 done" in logs.inner_text()
    lines = logs.locator(":scope > div")
    page.get_by_label("Find in output").fill("warning on")
    expect(lines).to_have_count(1)
    assert "a warning on stderr" in lines.first.inner_text()
    page.get_by_label("Find in output").fill("")
    page.get_by_label("Stream").select_option("stderr")
    expect(logs).not_to_contain_text("epoch 1 done")
    assert "a warning on stderr" in logs.inner_text()
    page.get_by_label("Stream").select_option("")
    page.get_by_label("Level").select_option("ERROR")
    expect(logs).not_to_contain_text("epoch 1 done")
    assert all("an error from logging" in line for line in lines.all_inner_texts()) and lines.count() >= 1
    page.get_by_label("Level").select_option("")
    shot(page, "run-code", full_page=True)


@contextlib.contextmanager
def live_run(base, script: str, name: str):
    """A run logging in a child process (``script`` prints "ready" once it has flushed), listed by the
    server as running before the body starts; the child is stopped at the end."""
    env = {**base.env, "LABBOOK_HEARTBEAT_INTERVAL": "0.5"}
    child = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
    try:
        while child.stdout.readline().strip() != "ready":
            assert child.poll() is None, f"the live run {name} ended before it was ready"
        deadline = time.monotonic() + 30  # the catalog lists the run (it indexes the folder beside the run)
        while f'"{name}"' not in _get(base + "/api/v1/runs?project=live&filter=status%20%3D%20%27running%27")[1]:
            assert time.monotonic() < deadline, f"the live run {name} did not reach the catalog within 30 s"
            time.sleep(0.2)
        yield child
    finally:
        child.terminate()
        child.wait(timeout=30)
        child.stdout.close()


LIVE_RUN = """
import sys, time
from labbook.tracking import Run
run = Run(project="live", name="live-run", install_handlers=False, track_env=False, track_code=False,
          track_logs=False, collect_resources=False, flush_interval=0.1)
for step in range(1200):
    run.log_metrics(step=step, loss=float(step))
    if step == 5:
        run.flush()
        print("ready", flush=True)
    time.sleep(0.1)
run.end()
"""


def test_runs_table_shows_crashed_and_running_runs_update_live(page):
    with live_run(page.base, LIVE_RUN, "live-run"):
        page.goto(page.base + "/#/projects/live?sort=name&col=name&col=status&col=metrics.loss.last")
        killed = page.locator(".rt-row[data-uuid]", has_text="killed-run")
        expect(killed.locator("[data-col='status']")).to_have_text("crashed", timeout=45_000)
        live = page.locator(".rt-row[data-uuid]", has_text="live-run")
        expect(live.locator("[data-col='status']")).to_have_text("running", timeout=30_000)
        page.evaluate("() => { window.notReloaded = true; }")
        value = live.locator("[data-col='metrics.loss.last']")
        # the summaries reach the catalog every few seconds (later on a loaded machine)
        expect(value).to_have_text(re.compile(r"\d"), timeout=45_000)
        first = float(value.inner_text())
        # the table re-reads its rows every 3 s while a loaded run is live: the value grows in place
        page.wait_for_function(
            "(first) => [...document.querySelectorAll('.rt-row[data-uuid]')].some(r => r.textContent.includes('live-run')"
            " && Number(r.querySelector(\"[data-col='metrics.loss.last']\")?.textContent) > first + 5)",
            arg=first, timeout=45_000)
        assert page.evaluate("() => window.notReloaded") is True
        shot(page, "runs-live")


FOLLOWED_RUN = """
import time
from labbook.tracking import Run
run = Run(project="live", name="followed-run", install_handlers=False, track_env=False, track_code=False,
          track_logs=True, collect_resources=False, flush_interval=0.1)
for step in range(600):
    print(f"followed line {step}", flush=True)
    run.log_metrics(step=step, loss=float(step))
    if step == 3:
        run.flush()
        print("ready", flush=True)
    time.sleep(0.1)
run.end()
"""


def test_run_page_logs_follow_a_live_run(page):
    with live_run(page.base, FOLLOWED_RUN, "followed-run"):
        page.goto(page.base + "/#/projects/live?sort=name&col=name&col=status")
        page.get_by_role("link", name="followed-run").click()
        page.locator(".logs-section summary").click()
        logs = page.get_by_label("Logs")
        expect(logs).to_contain_text("followed line", timeout=30_000)
        assert page.get_by_label("follow").is_checked()  # a live run's logs are followed by default
        page.evaluate("() => { window.notReloaded = true; }")

        def last_line() -> int:
            return max(int(n) for n in re.findall(r"followed line (\d+)", logs.inner_text()))

        first = last_line()
        # new lines arrive while the page stays open (the section re-reads a live run's logs)
        page.wait_for_function(
            "(first) => Math.max(...[...document.querySelectorAll('[aria-label=Logs] > div')]"
            ".map(d => Number((d.textContent.match(/followed line (\\d+)/) || [0, -1])[1]))) > first + 5",
            arg=first, timeout=45_000)
        assert last_line() > first + 5
        assert page.evaluate("() => window.notReloaded") is True
        shot(page, "run-logs-follow")


def test_column_chooser_finds_a_name_past_the_first_thousand(page):
    listed = json.loads(_get(page.base + "/api/v1/names?kind=params&project=wide")[1])
    assert listed["truncated"] and "p1499" not in {n["name"] for n in listed["names"]}
    page.goto(page.base + "/#/projects/wide?sort=name")
    page.locator(".rt-row[data-uuid]").first.wait_for()
    page.get_by_role("button", name="Columns").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator(".more")).to_contain_text("more: refine the search")  # thousands listed, 200 shown
    page.get_by_label("Search columns").fill("p1499")
    box = dialog.get_by_role("checkbox")
    expect(box).to_have_count(1)  # asked of the server (/names?q=): not among the 1,000 most used names
    box.click()
    page.get_by_role("button", name="Done").click()
    page.get_by_role("columnheader", name="p1499").wait_for()
    assert "col=params.p1499" in page.url
    cells = page.locator(".rt-row[data-uuid] [data-col='params.p1499']").all_inner_texts()
    assert sorted(cells) == ["", "", "1499"]
