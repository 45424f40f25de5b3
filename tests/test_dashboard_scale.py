"""The dashboard at scale, in a real browser, on SQLite and PostgreSQL: 100,000 runs with 20
params and 20 metrics each (seeded through the catalog by bench/seed_runs.py), a
1,000,000-point metric with one spike, and a compare of 100 runs x 10,000 points.

The home is built once under build/dashboard-scale/ and reused (seeding 100k runs takes minutes
on a busy 2-core machine); the PostgreSQL run indexes its run folders into a fresh database
and seeds the same 100k rows there, dropping the database afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.test_dashboard_browser import assert_drawn, browser_context, catalog_env, page, serve, shot  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import seed_runs  # noqa: E402 - bench/ is not a package

pytestmark = pytest.mark.timeout(1800)
RUNS = 100_000


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request):
    folder = ROOT / "build" / "dashboard-scale"
    made = seed_runs.scale_home(str(folder), RUNS)
    home = folder / ".labbook"
    with catalog_env(request.param, home) as env:
        if request.param == "postgresql":
            import subprocess

            code = ("import sys; sys.path.insert(0, sys.argv[1]); import seed_runs, labbook.catalog.indexer as i; "
                    "from labbook.config import Settings; s = Settings.load({}); i.rebuild_home(s); "
                    "seed_runs.seed_runs(s.catalog_url, 'scale', int(sys.argv[2]))")
            subprocess.run([sys.executable, "-c", code, str(ROOT / "bench"), str(RUNS)], env=env, check=True,
                           timeout=1200)
        with serve(home, env) as base:
            yield base, made


def dom_rows(page) -> int:
    return page.locator(".rt-row[data-uuid]").count()


def test_100k_runs_scroll_sort_and_filter_without_reload(page, server):
    base, _ = server
    page.goto(base + "/#/projects/scale")
    page.locator(".rt-row[data-uuid]").first.wait_for()
    page.get_by_text("100,000 in all").wait_for()
    assert 0 < dom_rows(page) <= 100
    # the project's most used params and metrics are columns by default
    for header in ("lr", "batch_size", "loss (last)"):
        page.get_by_role("columnheader", name=header).first.wait_for()
    page.evaluate("window.__sameDocument = true")  # gone if the page were reloaded
    table = page.locator(".runs-table")

    table.evaluate("el => { el.scrollTop = el.scrollHeight / 2; }")
    page.locator(".rt-row[data-index='50000']").wait_for()
    assert 0 < dom_rows(page) <= 100
    assert page.locator(".rt-row[data-index='50000'] [data-col='name']").inner_text() == "run-050000" or \
        page.locator(".rt-row[data-index='50000']").count() == 1
    shot(page, "runs-100k-middle")

    table.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    page.locator(f".rt-row[data-index='{RUNS - 1}']").wait_for()
    assert 0 < dom_rows(page) <= 100

    # sort by a metric: the server answers, the first row is the smallest loss
    table.evaluate("el => { el.scrollTop = 0; }")
    page.get_by_role("columnheader", name="loss (last)").click()
    page.wait_for_url("**sort=metrics.loss.last*")
    first = page.locator(".rt-row[data-index='0'] [data-col='metrics.loss.last']")
    first.wait_for()
    page.wait_for_function("() => document.querySelector(\".rt-row[data-index='0'] [data-col='metrics.loss.last']\")"
                           "?.textContent === '0.05'")
    values = [float(v) for v in page.locator(".rt-row[data-uuid] [data-col='metrics.loss.last']").all_inner_texts()[:20]]
    assert values == sorted(values) and values[0] == 0.05

    # filter by a param: about half the runs stay, every shown lr is below 0.5
    box = page.get_by_label("Filter runs")
    box.fill("params.lr < 0.5")
    box.press("Enter")
    page.wait_for_function("() => /\\d\\d,\\d{3} match of 100,000/.test(document.querySelector('.counts').textContent)")
    matching = int(page.get_by_label("Matching runs").inner_text().split("·")[1].split("match")[0].replace(",", ""))
    assert 45_000 < matching < 55_000, page.locator(".counts").inner_text()
    page.wait_for_function("() => [...document.querySelectorAll(\".rt-row[data-uuid] [data-col='params.lr']\")]"
                           ".every(c => Number(c.textContent) < 0.5)")
    assert page.evaluate("window.__sameDocument") is True
    table.evaluate("el => { el.scrollLeft = 0; }")
    shot(page, "runs-100k")


def test_a_million_point_spike_at_every_zoom_and_raw_when_close(page, server):
    base, made = server
    received = []

    def on_response(response) -> None:
        if "/metrics/series" in response.url:
            received.append(response.json())

    page.on("response", on_response)
    page.goto(base + f"/#/runs/{made['big']}")
    panel = page.locator(".panel[data-metric='loss']")
    panel.locator("canvas").wait_for()
    panel.scroll_into_view_if_needed()
    assert_drawn(page, ".panel[data-metric='loss'] canvas")
    full = received[-1]
    assert full["total"] == 1_000_000 and not full["raw"] and max(full["max"]) == 1e6
    shot(page, "chart-1m")
    info = panel.locator(".panel-info")

    def zoom_around_spike(fraction: float) -> None:
        """Drag a narrow window around the spike's x on screen."""
        over = panel.locator(".u-over").bounding_box()
        lo, hi = received[-1]["x"][0], (received[-1]["x_last"] or received[-1]["x"])[-1]
        at = over["x"] + over["width"] * (seed_runs.SPIKE_STEP - lo) / (hi - lo)
        before = len(received)
        y = over["y"] + over["height"] / 2
        page.mouse.move(at - over["width"] * fraction, y)
        page.mouse.down()
        page.mouse.move(at + over["width"] * fraction, y, steps=4)
        page.mouse.up()
        for _ in range(100):
            if len(received) > before:
                break
            page.wait_for_timeout(100)
        assert len(received) > before, "the zoom read nothing from the server"

    zoom_around_spike(0.02)  # ~40,000 steps
    first = received[-1]
    assert first["total"] < 1_000_000 and max(first["max"] if not first["raw"] else first["y"]) == 1e6
    assert_drawn(page, ".panel[data-metric='loss'] canvas")
    zoom_around_spike(0.01)  # ~800 steps
    second = received[-1]
    assert second["total"] < first["total"] and max(second["max"] if not second["raw"] else second["y"]) == 1e6
    assert_drawn(page, ".panel[data-metric='loss'] canvas")
    while not received[-1]["raw"]:  # zoomed in until the range holds no more points than pixels
        assert len(received) < 10, "zooming never reached the raw points"
        zoom_around_spike(0.2)
    second = received[-1]
    assert max(second["y"]) == 1e6
    steps = second["x"]
    assert steps == list(range(int(steps[0]), int(steps[0]) + len(steps)))  # every raw point in the range
    assert seed_runs.SPIKE_STEP in steps and all(v == 1.0 for s, v in zip(steps, second["y"]) if s != seed_runs.SPIKE_STEP)
    assert f"{len(steps)} points" in info.inner_text() and "bucket" not in info.inner_text()
    assert_drawn(page, ".panel[data-metric='loss'] canvas")
    shot(page, "chart-1m-zoomed")


def test_compare_100_runs_of_10k_points_draws_every_run(page, server):
    base, made = server
    runs = made["compare"]
    received = []

    def on_response(response) -> None:
        if response.url.endswith("/series/query"):
            received.extend(response.json()["series"])

    page.on("response", on_response)
    query = "&".join(f"run={u}" for u in runs)
    page.goto(base + f"/#/compare?{query}")
    legend = page.get_by_role("list", name="Runs")
    legend.locator("li").nth(len(runs) - 1).wait_for()
    chart = page.locator(".panel[data-metric='loss'] .chart")
    chart.wait_for()
    assert chart.get_attribute("data-series") == str(len(runs))
    assert_drawn(page, ".panel[data-metric='loss'] canvas")
    # every run's series arrived whole, and the chart had a line to draw for each
    page.wait_for_function("() => document.querySelector(\".panel[data-metric='loss'] .chart-canvas\")?.dataset.drawn")
    assert page.locator(".panel[data-metric='loss'] .chart-canvas").get_attribute("data-drawn") == str(len(runs))
    assert sorted(s["run"] for s in received) == sorted(runs)
    assert all(s["total"] == seed_runs.COMPARE_POINTS for s in received)
    page.locator(".panel[data-metric='loss']").scroll_into_view_if_needed()
    shot(page, "compare-100")

    # grouped by a param: one mean line and band per group, computed on the server
    page.get_by_label("Group by").select_option("group")
    page.wait_for_url("**group=group*")
    page.wait_for_function("() => document.querySelector(\".panel[data-metric='loss'] .chart\")?.dataset.series === '4'")
    assert_drawn(page, ".panel[data-metric='loss'] canvas")
    page.locator(".panel[data-metric='loss']").scroll_into_view_if_needed()
    shot(page, "compare-100-grouped")
