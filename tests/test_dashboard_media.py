"""The dashboard's media, artifacts and lineage pages in a real browser against a real server.

One home for the module: the demo project (``labbook.demo``), the tracking guide's program from
the seeds (``tests/test_seed_events.PROGRAM``: every event kind), three runs whose images, text
and histograms sit at different steps (steps 0-9, the even steps, every third step), and a
three-run graph of exactly 1,000 lineage nodes. The server, browser and page fixtures are those
of test_dashboard_browser.py (every test fails on a console error or an uncaught exception).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.conftest import python_env
from tests.test_dashboard_browser import (  # noqa: F401 (fixtures)
    ROOT,
    browser_context,
    page,
    shot,
    start_server,
)

pytestmark = pytest.mark.timeout(300)

SEED = f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n" + r"""
import warnings
import numpy as np
import matplotlib
matplotlib.use("Agg")
import labbook
from labbook.demo import run_demo
from labbook.tracking import Run
from labbook import tracking

uuids = {"demo": run_demo(echo=lambda *_: None)}

QUIET = dict(install_handlers=False, track_env=False, track_code=False, track_logs=False, collect_resources=False)
SCRIPT = ("<p id='x'>logged html</p><script>document.title = 'ran';"
          "try { window.top.__labbook_pwned = 'top' } catch (e) {}"
          "try { window.parent.__labbook_pwned = 'parent' } catch (e) {}"
          "try { localStorage.setItem('labbook_pwned', '1') } catch (e) {}</script>")
STEPS = {"a": list(range(10)), "b": list(range(0, 10, 2)), "c": list(range(0, 10, 3))}
import plotly.graph_objects as go
for name, steps in STEPS.items():
    run = Run(project="cursor", name=f"cursor-{name}", **QUIET)
    for step in range(10):
        run.log_metrics(step=step, loss=1.0 / (step + 1))
    for step in steps:
        run.log_image(np.full((12, 16, 3), step * 25, dtype=np.uint8), name="frame", step=step)
        run.log_text("note", f"{name} at step {step}", step=step)
        run.log_histogram("weights", np.random.default_rng(step).normal(step, 1.0, 500), bins=12, step=step)
    run.log_html("evil", SCRIPT, step=0)
    run.log_plotly_chart("bars", go.Figure(go.Bar(x=["a", "b", "c"], y=[1, 3, 2])), step=0)
    if name == "a":
        boxes = np.array([[2.0, 2.0, 8.0, 8.0], [9.0, 3.0, 15.0, 10.0]])
        run.log_image_with_boxes(np.zeros((12, 16, 3), dtype=np.uint8), boxes, name="detections", step=0)
        with open("report.html", "w") as report:
            report.write("<h2 id='t'>html report</h2>" + SCRIPT)
        run.log_artifact("report.html", name="html-report", kind="html")
        import pandas as pd
        run.log_dataframe(pd.DataFrame({"i": range(45), "square": [i * i for i in range(45)]}), "squares",
                          content_type="parquet", step=0)
        for step in (0, 5):
            path = f"ckpt-{step}.npz"
            np.savez(path, w=np.arange(step + 3))
            run.log_model(path, name="ckpt", framework="numpy", step=step)
    uuids[name] = run.uuid
    run.end()

# a lineage graph of exactly 1,000 nodes: 3 runs, 997 references between them
fan = Run(project="graph", name="fan-out", **QUIET)
fan.log_artifact_lineage([{"name": f"part-{i}", "kind": "data", "path": f"/data/part-{i}", "is_input": False} for i in range(500)])
fan.end()
mid = Run(project="graph", name="middle", **QUIET)
mid.log_artifact_lineage([{"name": f"part-{i}", "kind": "data", "path": f"/data/part-{i}", "is_input": True} for i in range(500)]
                         + [{"name": f"piece-{i}", "kind": "data", "path": f"/data/piece-{i}", "is_input": False} for i in range(497)])
mid.end()
last = Run(project="graph", name="fan-in", **QUIET)
last.log_artifact_lineage([{"name": f"piece-{i}", "kind": "data", "path": f"/data/piece-{i}", "is_input": True} for i in range(497)])
last.end()
uuids["graph"] = mid.uuid

from tests.test_seed_events import PROGRAM
guide = tracking.init(project="seed", name="tracking-guide", **QUIET)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    namespace = {"__name__": "tracking_guide"}
    exec("import random\nimport numpy as np", namespace)
    exec(compile(PROGRAM, "tracking_guide.py", "exec"), namespace)
tracking.end()
uuids["seed"] = guide.uuid
print("UUIDS=" + __import__("json").dumps(uuids))
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("vega_datasets")  # the guide's altair example reads its cars data
    pytest.importorskip("plotly")
    home = tmp_path_factory.mktemp("media") / ".labbook"
    home.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-c", SEED], env=python_env(home), cwd=home.parent, check=True,
                          timeout=300, capture_output=True, text=True)
    uuids = json.loads(done.stdout.split("UUIDS=")[-1])
    with start_server(home) as base:
        yield {"home": home, "base": base, **uuids}


@pytest.fixture(scope="module")
def server(world) -> str:
    return world["base"]


def cells(page, panel: str) -> dict[str, dict]:
    """Per run of a panel: the step shown, whether exact, and the mark's text."""
    return {c.get_attribute("data-run"): {"step": c.get_attribute("data-shown-step"), "exact": c.get_attribute("data-exact"),
                                          "mark": c.locator(".step-mark").all_inner_texts()}
            for c in page.locator(f'section[data-panel="{panel}"] .cell').all()}


# Chromium reports the logged <script> it refused to run (the sandbox at work) as a console error.
BLOCKED = "because the document's frame is sandboxed and the 'allow-scripts' permission is not set"


def wait_steps(page, panel: str, steps: list[str]) -> None:
    """Until the panel's cells (in run order) show these steps."""
    shown = """(panel) => [...document.querySelectorAll(`section[data-panel="${panel}"] .cell`)].map(c => c.dataset.shownStep)"""
    try:
        page.wait_for_function(f"([panel, steps]) => JSON.stringify(({shown})(panel)) === JSON.stringify(steps)",
                               arg=[panel, steps])
    except PlaywrightTimeout:
        raise AssertionError(f"{panel} shows steps {page.evaluate(shown, panel)}, not {steps}, at {page.url}") from None


def media_url(*runs: str, step: int | None = None) -> str:
    query = "&".join(f"run={r}" for r in runs) + (f"&step={step}" if step is not None else "")
    return f"/#/media?{query}"


def wait_images(page, panel: str) -> None:
    page.wait_for_function("""panel => {
        const imgs = [...document.querySelectorAll(`section[data-panel="${panel}"] img`)];
        return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);
    }""", arg=panel)


def test_every_event_kind_of_the_seed_program_renders(page, world):
    page.goto(page.base + media_url(world["seed"], step=4))
    page.locator('section[data-panel="text:text-event"] .text-cell').wait_for()
    assert page.locator('section[data-panel="text:text-event"] .text-cell').inner_text() == "value at step 4"
    wait_images(page, "image:mpl_image")
    # audio: a player and a waveform drawn from the WAV's samples
    audio = page.locator('section[data-panel="audio:audio-ex"]')
    audio.locator("svg.waveform").wait_for()
    assert audio.locator("svg.waveform line").count() > 100
    assert audio.locator("audio").count() == 1
    # histograms, curves (with AUC), confusion matrices
    assert page.locator('section[data-panel="histogram:distribution"] svg.histogram rect').count() > 3
    assert "AUC 0.7421" in page.locator('section[data-panel="curve:roc-curve-man"] .curve-cell .hint').inner_text()
    assert "AP 0.7421" in page.locator('section[data-panel="curve:pr-curve-man"] .curve-cell .hint').inner_text()
    assert page.locator('section[data-panel="curve:random-curve-man"] svg.curve polyline').count() == 1
    assert page.locator('section[data-panel="confusion:confusion_test"] table.confusion td').count() > 3
    # logged HTML in its sandboxed frame
    html = page.frame_locator('section[data-panel="html:text-event"] iframe')
    assert "Some more html at step 4" in html.locator("body").inner_text()
    # charts drawn by plotly, bokeh and vega-lite inside their sandboxed frames
    for panel in ("chart:scatter", "chart:confusion-bokeh", "chart:altair_chart", "chart:2d-hist"):
        frame = page.frame_locator(f'section[data-panel="{panel}"] iframe')
        frame.locator('body[data-rendered="ok"]').wait_for(timeout=30_000)
    assert page.frame_locator('section[data-panel="chart:scatter"] iframe').locator(".main-svg").count() > 0
    assert page.frame_locator('section[data-panel="chart:altair_chart"] iframe').locator("svg").count() > 0
    assert page.frame_locator('section[data-panel="chart:confusion-bokeh"] iframe').locator(".bk-Figure, .bk-Canvas, canvas, [class*='bk-']").count() > 0
    shot(page, "media-seed", full_page=True)


def test_demo_runs_show_video_dataframes_traces_and_images_with_boxes(page, world):
    page.expected_errors.append(BLOCKED)
    train = world["demo"][1]
    page.goto(page.base + media_url(train))
    page.locator('section[data-panel="video:weights-video"] img.video-gif').wait_for()
    wait_images(page, "image:weights-by-epoch")
    evaluate = world["demo"][-1]
    page.goto(page.base + media_url(evaluate))
    table = page.locator('section[data-panel="dataframe:highest-risk-customers"] table.data-table')
    table.wait_for()
    assert table.locator("tbody tr").count() == 20
    assert "score" in table.locator("thead").inner_text()
    tree = page.locator('section[data-panel="span:evaluate"] .trace-tree')
    assert "evaluate" in tree.inner_text() and "predict" in tree.inner_text()
    page.goto(page.base + media_url(world["a"], step=0))
    boxes = page.locator('section[data-panel="image:detections"]')
    boxes.locator("svg.boxes rect").first.wait_for()
    assert boxes.locator("svg.boxes rect").count() == 2
    shot(page, "media-boxes")
    boxes.get_by_label("boxes (2)").uncheck()
    assert boxes.locator("svg.boxes rect").count() == 0
    # a Parquet table, paged by the server
    squares = page.locator('section[data-panel="dataframe:squares"]')
    squares.locator("table.data-table tbody tr").first.wait_for()
    assert squares.locator("tbody tr").count() == 20
    assert "page 1 of 3 · 45 rows" in squares.locator(".pager").inner_text()
    squares.get_by_label("Next page").click()
    squares.locator(".pager", has_text="page 2 of 3").wait_for()
    assert squares.locator("tbody tr").first.locator("td").all_inner_texts() == ["20", "400"]
    bad = page.request.get(f"{page.base}/api/v1/runs/{world['a']}/table?path=assets/image/frame_0.png")
    assert bad.status in (404, 422)
    # a model logged with a step: its file, with a download link
    model = page.locator('section[data-panel="model:ckpt"]')
    assert model.locator("a[download]").count() == 1
    frame = page.locator('section[data-panel="image:frame"] .zoom-frame').first
    frame.hover()
    page.mouse.wheel(0, -200)
    assert "reset zoom" in page.locator('section[data-panel="image:frame"]').inner_text()


def test_the_global_cursor_moves_every_panel_of_three_runs(page, world):
    page.expected_errors.append(BLOCKED)
    a, b, c = world["a"], world["b"], world["c"]
    page.goto(page.base + media_url(a, b, c, step=4))
    wait_images(page, "image:frame")
    for panel in ("image:frame", "text:note", "histogram:weights"):
        shown = cells(page, panel)
        assert shown[a]["step"] == "4" and shown[a]["exact"] == "true"
        assert shown[b]["step"] == "4" and shown[b]["exact"] == "true"
        assert shown[c]["step"] == "3" and shown[c]["exact"] == "false"
        assert shown[c]["mark"] == ["≈ step 3"]
    assert page.locator(f'section[data-panel="text:note"] .cell[data-run="{c}"] .text-cell').inner_text() == "c at step 3"
    shot(page, "media-cursor")
    # the page slider: to the last mark (9)
    slider = page.get_by_label("Global step")
    slider.focus()
    slider.press("End")
    page.wait_for_url("**step=9*")
    wait_steps(page, "image:frame", ["9", "8", "9"])
    wait_images(page, "image:frame")
    shown = cells(page, "image:frame")
    assert (shown[a]["step"], shown[b]["step"], shown[c]["step"]) == ("9", "8", "9")
    assert (shown[a]["exact"], shown[b]["exact"], shown[c]["exact"]) == ("true", "false", "true")
    srcs = page.locator('section[data-panel="image:frame"] img').evaluate_all("imgs => imgs.map(i => i.getAttribute('data-step'))")
    assert srcs == ["9", "8", "9"]
    # one panel's slider moves the page cursor too
    page.get_by_label("note step").focus()
    page.get_by_label("note step").press("Home")
    page.wait_for_url("**step=0*")
    wait_steps(page, "histogram:weights", ["0", "0", "0"])
    # a click on the metric chart sets the cursor to the nearest logged step
    chart = page.get_by_label("Metric chart (click to set the step)")
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    chart.click(position={"x": box["width"] - 8, "y": box["height"] / 2})
    page.wait_for_url("**step=9*")


def test_compare_and_run_pages_open_the_media_of_their_runs(page, world):
    page.expected_errors.append(BLOCKED)
    a, b, c = world["a"], world["b"], world["c"]
    page.goto(page.base + f"/#/compare?run={a}&run={b}&run={c}")
    page.get_by_role("link", name="Media").click()
    page.wait_for_url("**/#/media?*")
    wait_images(page, "image:frame")
    assert sorted(page.locator(".cell[data-run]").evaluate_all("cs => [...new Set(cs.map(c => c.dataset.run))]")) == sorted([a, b, c])
    page.goto(page.base + f"/#/runs/{a}")
    page.locator(".run-links").get_by_role("link", name="Media").click()
    page.wait_for_url(f"**/#/media?run={a}*")
    page.locator('section[data-panel="image:frame"]').wait_for()


def test_keyboard_stepping_play_and_pin(page, world):
    page.expected_errors.append(BLOCKED)
    a, b, c = world["a"], world["b"], world["c"]
    page.goto(page.base + media_url(a, b, c, step=2))
    page.locator('section[data-panel="text:note"] .cell').first.wait_for()
    # the keys step along the union of every panel's marks: wait until all of them are loaded
    page.locator('.media-page[aria-busy="false"]').wait_for()
    page.locator("h1").click()  # focus on the page, not a control
    page.keyboard.press("ArrowRight")
    page.wait_for_url("**step=3*")
    wait_steps(page, "text:note", ["3", "2", "3"])
    assert cells(page, "text:note")[b]["mark"] == ["≈ step 2"]
    page.keyboard.press("Shift+ArrowRight")
    page.wait_for_url("**step=9*")
    page.keyboard.press("ArrowLeft")
    page.wait_for_url("**step=8*")
    # the URL changes before the page draws step 8: pin what is shown, once it is
    wait_steps(page, "text:note", ["8", "8", "6"])
    # pin the text panel at 8, then move the cursor: the pinned panel stays
    page.locator('section[data-panel="text:note"] button.pin').click()
    page.wait_for_url("**pin=text%3Anote%408*")
    page.keyboard.press("Shift+ArrowLeft")
    page.wait_for_url("**step=0*")
    wait_steps(page, "histogram:weights", ["0", "0", "0"])
    wait_steps(page, "text:note", ["8", "8", "6"])
    # play runs the cursor forward to the last mark
    page.get_by_label("Play").click()
    page.wait_for_url("**step=2*", timeout=10_000)
    page.get_by_label("Pause").click()


def test_a_logged_script_never_runs_in_the_dashboard_and_charts_still_render(page, world):
    page.expected_errors.append(BLOCKED)
    a = world["a"]
    page.goto(page.base + media_url(a, step=0))
    frame = page.frame_locator('section[data-panel="html:evil"] iframe')
    assert frame.locator("#x").inner_text() == "logged html"
    plotly = page.frame_locator('section[data-panel="chart:bars"] iframe')
    plotly.locator('body[data-rendered="ok"]').wait_for(timeout=30_000)
    assert plotly.locator(".main-svg").count() > 0
    page.wait_for_timeout(500)
    assert page.evaluate("window.__labbook_pwned") is None
    assert page.evaluate("localStorage.getItem('labbook_pwned')") is None
    assert page.title() != "ran"
    # the HTML frame runs no script at all; the chart frame runs its own, in an opaque origin
    html = next(f for f in page.frames if "/render/html" in f.url)
    assert html.evaluate("document.title") != "ran"
    chart = next(f for f in page.frames if "/render/chart" in f.url)
    assert chart.evaluate("window.origin") == "null"
    assert chart.evaluate("(() => { try { return parent.document.title } catch (e) { return 'blocked' } })()") == "blocked"
    # opened directly, the logged page is still sandboxed by its Content-Security-Policy
    url = html.url
    page.goto(url)
    assert page.locator("#x").inner_text() == "logged html"
    assert page.title() != "ran"
    assert page.evaluate("window.origin") == "null"


def test_two_images_compared_by_swipe_and_difference(page, world):
    page.expected_errors.append(BLOCKED)
    a, b = world["a"], world["b"]
    page.goto(page.base + media_url(a, b, step=5))
    wait_images(page, "image:frame")
    panel = page.locator('section[data-panel="image:frame"]')
    panel.get_by_label("Compare images").select_option("difference")
    # step 5 (grey 125) against b's step 4 (grey 100): |a - b| = 25 in every channel
    page.wait_for_function("""() => /mean \\|a − b\\| per channel: 25\\.00/.test(document.querySelector('section[data-panel="image:frame"]').innerText)""")
    shot(page, "media-difference")
    panel.get_by_label("Compare images").select_option("swipe")
    assert panel.locator(".swipe img").count() == 2
    panel.get_by_label("Swipe position").fill("20")
    assert "inset(0px 80% 0px 0px)" in panel.locator(".swipe img.swipe-top").evaluate("i => getComputedStyle(i).clipPath")


def _row_keys(page) -> list[str]:
    return page.locator("table.artifacts tbody tr").evaluate_all("rows => rows.map(r => r.dataset.key + ':v' + r.dataset.version)")


def test_artifacts_filter_by_kind_labels_tag_and_time(page, world):
    page.goto(page.base + "/#/projects/churn-demo/artifacts")
    page.locator("table.artifacts").wait_for()
    assert sorted(_row_keys(page)) == ["churn-raw:v1", "churn-raw:v2", "churn-train:v1", "churn-val:v1"]
    shot(page, "artifacts-datasets")
    page.get_by_label("Label filter").fill("split=train")
    page.get_by_label("Label filter").press("Enter")
    page.wait_for_function("() => document.querySelectorAll('table.artifacts tbody tr').length === 1")
    assert _row_keys(page) == ["churn-train:v1"]
    page.get_by_label("Remove label split=train").click()
    page.get_by_label("Label filter").fill("source")  # a bare key: has the label
    page.get_by_label("Label filter").press("Enter")
    page.wait_for_function("() => document.querySelectorAll('table.artifacts tbody tr').length === 2")
    assert sorted(_row_keys(page)) == ["churn-raw:v1", "churn-raw:v2"]
    page.get_by_role("tab", name="Models").click()
    page.get_by_label("Remove label source").click()
    page.get_by_label("Tag").fill("best")
    page.wait_for_function("() => document.querySelectorAll('table.artifacts tbody tr').length === 1")
    assert _row_keys(page)[0].startswith("churn-logreg:")
    assert "numpy" in page.locator("table.artifacts tbody tr").inner_text()
    page.get_by_role("tab", name="Artifacts").click()
    page.get_by_label("Tag").fill("")
    page.wait_for_function("() => document.querySelectorAll('table.artifacts tbody tr').length === 1")
    assert _row_keys(page) == ["evaluation-report:v1"]
    # a created range: from the second after the newest dataset on, no dataset (the inputs hold
    # whole seconds, in the browser's local time); from an hour before, all four
    import labbook
    report = labbook.get_artifact("store://artifacts/churn-demo/evaluation-report", home=world["home"])
    newest = max(v.created_at for v in labbook.list_artifacts("churn-demo", kind="dataset", home=world["home"]))
    after = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(int(newest.timestamp()) + 1))
    page.goto(page.base + f"/#/projects/churn-demo/artifacts?tab=datasets&from={quote(after)}")
    page.locator(".empty, table.artifacts").first.wait_for()
    assert page.locator("table.artifacts").count() == 0  # every dataset is older than the report
    before = (report.created_at.timestamp() - 3600)
    local = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(before))
    page.goto(page.base + f"/#/projects/churn-demo/artifacts?tab=datasets&from={quote(local)}")
    page.locator("table.artifacts").wait_for()
    assert len(_row_keys(page)) == 4


def test_tag_and_untag_from_the_page_and_the_library_follows(page, world):
    import labbook
    from labbook.errors import LabbookError

    model = labbook.get_artifact("store://models/churn-demo/churn-logreg:best", home=world["home"])
    page.goto(page.base + f"/#/artifact?uri={quote(model.uri)}")
    page.get_by_label("New tag").fill("candidate")
    page.get_by_role("button", name="Tag", exact=True).click()
    page.locator(".tag-editor .tag", has_text="candidate").wait_for()
    assert labbook.get_artifact("store://models/churn-demo/churn-logreg:candidate", home=world["home"]).uid == model.uid
    shot(page, "artifact-model")
    page.get_by_label("Remove tag candidate").click()
    page.locator(".tag-editor .tag", has_text="candidate").wait_for(state="detached")
    with pytest.raises(LabbookError):
        labbook.get_artifact("store://models/churn-demo/churn-logreg:candidate", home=world["home"])
    # the model page: framework, metrics, params
    assert "numpy" in page.locator(".model-preview").inner_text()
    assert "accuracy" in page.get_by_label("Model metrics").inner_text()
    assert "batch_size" in page.get_by_label("Model params").inner_text()


def test_download_returns_the_exact_bytes_and_the_yaml(page, world):
    import labbook

    version = labbook.get_artifact("store://artifacts/churn-demo/evaluation-report", home=world["home"])
    page.goto(page.base + f"/#/artifact?uri={quote(version.uri)}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download", exact=True).click()
    assert Path(download.value.path()).read_bytes() == Path(version.location).read_bytes()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download YAML").click()
    record = yaml.safe_load(Path(download.value.path()).read_text())
    # read as YAML: a uid that starts with a digit is written quoted
    assert record["uid"] == version.uid and record["key"] == "evaluation-report"
    assert page.locator("code.store-uri").inner_text() == f"store://artifacts/churn-demo/evaluation-report@{version.uid}"


def test_html_and_text_versions_preview_without_running_scripts(page, world):
    page.expected_errors.append(BLOCKED)
    page.goto(page.base + "/#/artifact?uri=" + quote("store://artifacts/cursor/html-report"))
    assert page.frame_locator("iframe.artifact-html").locator("#t").inner_text() == "html report"
    page.wait_for_timeout(300)
    assert page.evaluate("window.__labbook_pwned") is None
    assert page.title() != "ran"
    page.goto(page.base + "/#/artifact?uri=" + quote("store://artifacts/churn-demo/evaluation-report"))
    import labbook

    version = labbook.get_artifact("store://artifacts/churn-demo/evaluation-report", home=world["home"])
    text = page.locator("pre.artifact-text")
    text.wait_for()
    assert text.inner_text().strip() == Path(version.location).read_text().strip()


def test_a_dataset_page_shows_its_schema_and_preview(page, world):
    page.goto(page.base + "/#/artifact?uri=" + quote("store://datasets/churn-demo/churn-val"))
    schema = page.get_by_label("Schema")
    schema.wait_for()
    assert "tenure_months" in schema.inner_text() and "float64" in schema.inner_text()
    # statistics computed from the stored table, with a histogram per numeric column
    schema.locator(".stat-bars").first.wait_for()
    assert schema.locator(".stat-bars").count() == 6
    import pandas as pd

    import labbook

    frame = pd.read_parquet(labbook.get_artifact("store://datasets/churn-demo/churn-val", home=world["home"]).location)
    row = schema.locator("tr", has_text="support_calls").locator("td").all_inner_texts()
    assert row[2] == "0" and float(row[3]) == frame["support_calls"].min()
    assert abs(float(row[4]) - frame["support_calls"].mean()) < 1e-3
    preview = page.locator(".dataset-preview table.data-table")
    assert preview.locator("thead th").count() == 6
    assert preview.locator("tbody tr").count() == 10
    assert "churned" in preview.locator("thead").inner_text()
    page.locator(".lineage-view[data-state=ready]").wait_for()
    shot(page, "artifact-dataset", full_page=True)


def test_a_run_page_shows_what_it_consumed_and_produced(page, world):
    page.goto(page.base + f"/#/runs/{world['demo'][1]}")
    consumed = page.locator("ul.run-artifacts.consumed")
    consumed.wait_for()
    assert sorted(consumed.locator("a").all_inner_texts()) == ["churn-train:v1", "churn-val:v1"]
    assert page.locator("ul.run-artifacts.produced a").all_inner_texts()[0].startswith("churn-logreg:v")


def test_the_evaluation_report_walks_up_to_the_raw_data(page, world):
    import labbook

    report = labbook.get_artifact("store://artifacts/churn-demo/evaluation-report", home=world["home"])
    raw = labbook.get_artifact("store://datasets/churn-demo/churn-raw", home=world["home"])
    page.goto(page.base + f"/#/lineage?uri={quote(report.uri)}&direction=up&depth=10")
    page.locator(".lineage-view[data-state=ready]").wait_for()
    graph = page.get_by_label("Lineage graph")
    assert graph.locator(f'g.node.root[data-id="artifact:{report.uid}"]').count() == 1
    assert graph.locator(f'g.node[data-id="artifact:{raw.uid}"]').count() == 1
    labels = graph.locator("g.node text").evaluate_all("ts => ts.map(t => t.textContent)")
    assert {"prepare-data", "evaluate-best", "churn-raw:v2", "churn-train:v1", "churn-val:v1"} <= set(labels)
    shot(page, "lineage-report")
    graph.locator(f'g.node[data-id="artifact:{raw.uid}"]').click()
    page.wait_for_url("**/#/artifact?uri=*churn-raw*")


def test_siblings_cluster_and_a_1000_node_graph_lays_out(page, world):
    page.goto(page.base + f"/#/lineage?run={world['graph']}&depth=2")
    view = page.locator(".lineage-view[data-state=ready]")
    view.wait_for()
    # 500 parts and 497 pieces are not leaves (two runs each): nothing clusters; fan-out's parts would
    assert view.get_attribute("data-nodes") == "1000"
    page.goto(page.base + f"/#/lineage?run={world['graph']}&depth=1")
    page.locator(".lineage-view[data-state=ready]").wait_for()
    clusters = page.locator("g.node.cluster")
    assert sorted(clusters.locator("text").evaluate_all("ts => ts.map(t => t.textContent)")) == ["497 refs", "500 refs"]
    clusters.first.click()
    page.wait_for_function("() => document.querySelectorAll('g.node').length > 400")
    # the full graph, unclustered: every node placed; the page stays responsive meanwhile
    page.goto(page.base + f"/#/lineage?run={world['graph']}&depth=2&cluster=0")
    page.locator(".lineage-view[data-state=ready]").wait_for(timeout=60_000)
    assert page.locator("g.node").count() == 1000
    assert page.locator(".lineage-view").get_attribute("data-layout-ms") != ""
    shot(page, "lineage-1000")
