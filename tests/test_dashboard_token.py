"""The media pages of a team server that needs a read token, in a real browser.

Frames, images and downloads cannot carry an Authorization header when loaded by URL, and a token
never goes in a URL: the dashboard fetches them with its header (blob: URLs, the sandboxed shell
page). The token is given the way a person gives it: the 401 box's token form.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PYTHON, python_env, require
from tests.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, SHOTS, sync_playwright

pytestmark = pytest.mark.timeout(300)

# the logged page of test_dashboard_media.py: a script that would mark the dashboard's window
SCRIPT = ("<p id='x'>logged html</p><script>document.title = 'ran';"
          "try { window.top.__labbook_pwned = 'top' } catch (e) {}"
          "try { window.parent.__labbook_pwned = 'parent' } catch (e) {}"
          "try { localStorage.setItem('labbook_pwned', '1') } catch (e) {}</script>")
# Chromium reports the logged <script> the shell's policy refused to run as a console error.
BLOCKED = "Executing inline script violates the following Content Security Policy directive 'script-src 'sha256-"
SEED = f"SCRIPT = {SCRIPT!r}\n" + r"""
import json
import numpy as np
import plotly.graph_objects as go
from labbook.tracking import Run

run = Run(project="team", name="team-run", install_handlers=False, track_env=False, track_code=False,
          track_logs=False, collect_resources=False)
run.log_image(np.full((12, 16, 3), 200, dtype=np.uint8), name="frame", step=0)
run.log_html("evil", SCRIPT, step=0)
run.log_plotly_chart("bars", go.Figure(go.Bar(x=["a", "b", "c"], y=[1, 3, 2])), step=0)
run.log_dataframe(__import__("pandas").DataFrame({"i": range(5)}), "small", content_type="parquet", step=0)
run.end()
print("UUID=" + run.uuid)
"""


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory):
    from labbook.dashboard import static_dir

    pytest.importorskip("plotly")
    require(static_dir() is not None, "the dashboard is not built (cd ui && npm ci && npm run build)")
    require(Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    require(sync_playwright is not None, "playwright is not installed (pip install playwright)")
    from tests.server_helpers import ServerProcess

    SHOTS.mkdir(parents=True, exist_ok=True)
    home = tmp_path_factory.mktemp("team") / ".labbook"
    home.mkdir(parents=True)
    done = subprocess.run([sys.executable, "-c", SEED], env=python_env(home), cwd=home.parent, check=True,
                          timeout=180, capture_output=True, text=True)
    uuid = done.stdout.split("UUID=")[-1].strip()
    created = subprocess.run([PYTHON, "-m", "labbook.cli.main", "server", "token", "create", "--name", "ui",
                              "--scope", "read"], env=python_env(home), check=True, capture_output=True, text=True)
    token = created.stdout.strip().splitlines()[0]
    server = ServerProcess(home)  # no --public-read: every read needs a token
    try:
        yield {"url": server.url, "uuid": uuid, "token": token}
    finally:
        server.stop()


def test_html_chart_image_and_download_render_with_a_token_never_in_a_url(team, tmp_path):
    base, uuid, token = team["url"], team["uuid"], team["token"]
    requested: list[str] = []
    refused: list[str] = []
    problems: list[str] = []
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900}, accept_downloads=True)
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.on("request", lambda r: requested.append(r.url))
        page.on("response", lambda r: refused.append(r.url) if r.status == 401 else None)
        page.goto(f"{base}/#/media?run={uuid}&step=0")
        # without a token the API refuses the page's requests, and the error box asks for one
        page.get_by_label("Token").fill(token)
        with page.expect_navigation():
            page.get_by_role("button", name="Use this token").click()
        refused.clear()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" and BLOCKED not in m.text else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

        image = page.locator('section[data-panel="image:frame"] img')
        page.wait_for_function("""() => {
            const img = document.querySelector('section[data-panel="image:frame"] img');
            return img && img.complete && img.naturalWidth === 16;
        }""")
        assert image.get_attribute("src").startswith("blob:")
        html = page.frame_locator('section[data-panel="html:evil"] iframe')
        assert html.locator("#x").inner_text() == "logged html"
        plotly = page.frame_locator('section[data-panel="chart:bars"] iframe')
        plotly.locator('body[data-rendered="ok"]').wait_for(timeout=30_000)
        assert plotly.locator(".main-svg").count() > 0
        page.wait_for_timeout(500)
        # the logged script sets nothing in the dashboard, and runs in no frame either
        assert page.evaluate("window.__labbook_pwned") is None
        assert page.evaluate("localStorage.getItem('labbook_pwned')") is None
        assert page.title() != "ran"
        frames = {f.name or f.url: f for f in page.frames if "/shell/" in f.url}
        assert len(frames) == 2, [f.url for f in page.frames]
        for frame in frames.values():
            assert frame.evaluate("window.origin") == "null"
        html_frame = next(f for f in page.frames if f.url.endswith("/shell/html"))
        assert html_frame.evaluate("document.title") != "ran"
        assert html_frame.evaluate("document.getElementById('x').textContent") == "logged html"
        chart_frame = next(f for f in page.frames if f.url.endswith("/shell/chart"))
        assert chart_frame.evaluate(
            "(() => { try { return parent.document.title } catch (e) { return 'blocked' } })()") == "blocked"
        for panel in ("image:frame", "chart:bars", "html:evil"):
            page.locator(f'section[data-panel="{panel}"]').screenshot(path=str(SHOTS / f"media-team-{panel.split(':')[1]}.png"))

        # a download link fetches its bytes with the header
        assert not problems, problems
        link = page.locator('section[data-panel="dataframe:small"] a', has_text="download")
        link.wait_for()
        link.scroll_into_view_if_needed()
        with page.expect_download() as download:
            link.click()
        assert Path(download.value.path()).read_bytes()[:4] == b"PAR1", problems
        context.close()

    assert not refused, refused
    assert not problems, problems
    assert requested and not [u for u in requested if token in u or "token=" in u.lower()]
    assert any("/render/html" in u for u in requested) and any("/render/chart" in u for u in requested)
    print(json.dumps({"requests": len(requested)}))
