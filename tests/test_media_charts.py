"""Charts stored as JSON specs that load back in their libraries; matplotlib conversion and fallback."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import labbook
from labbook.errors import InvalidValueError, MissingDependencyError
from labbook.media.typed import read_typed


def charts_of(run, name):
    run.flush()
    assert run._writer.errors == []
    return read_typed(labbook.get_run(run.uuid), "chart", name)


@pytest.fixture
def plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    yield pyplot
    pyplot.close("all")


def test_plotly_figure_and_dict_round_trip(run_factory):
    import plotly.graph_objects as go

    figure = go.Figure(go.Bar(x=["a", "b"], y=np.array([1.5, 2.5])), layout={"title": {"text": "bars"}})
    run = run_factory()
    run.log_plotly_chart("bars", figure, step=1)
    run.log_plotly_chart("bars", {"data": [{"type": "scatter", "y": [3, 1]}]}, step=2)
    logged = figure.to_dict()
    figure.data[0].y = [9, 9]  # changes after the call are not recorded
    first, second = charts_of(run, "bars")
    assert first.kind == "plotly"
    loaded = first.to_figure()
    assert isinstance(loaded, go.Figure)
    assert loaded.to_dict()["data"] == logged["data"]  # plotly 6+ keeps arrays as typed 'bdata'
    assert loaded.layout.title.text == "bars"
    assert list(second.to_figure().data[0].y) == [3, 1]


def test_bokeh_json_item_round_trips(run_factory):
    from bokeh.models import Plot
    from bokeh.plotting import figure

    plot = figure(title="dots", x_range=["a", "b"])
    plot.scatter(["a", "b"], [1, 2], size=10)
    run = run_factory()
    run.log_bokeh_chart("dots", plot, step=1)
    (event,) = charts_of(run, "dots")
    assert event.kind == "bokeh" and set(event.figure) >= {"doc", "root_id"}
    model = event.to_figure()
    assert isinstance(model, Plot) and model.title.text == "dots"


def test_altair_spec_round_trips(run_factory):
    import altair as alt
    import pandas as pd

    chart = alt.Chart(pd.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_point().encode(x="x:Q", y="y:Q")
    run = run_factory()
    run.log_altair_chart("points", chart, step=0)
    (event,) = charts_of(run, "points")
    assert event.kind == "vega" and event.figure["mark"]["type"] == "point"
    assert event.to_figure().to_dict()["encoding"] == chart.to_dict()["encoding"]


def test_mpl_plotly_chart_converts_and_closes(run_factory, plt):
    figure, axes = plt.subplots()
    axes.plot([0, 1, 2], [2, 1, 3])
    run = run_factory()
    run.log_mpl_plotly_chart("line", figure, step=1)
    assert not plt.fignum_exists(figure.number)
    (event,) = charts_of(run, "line")
    assert (event.kind, event.source, event.is_fallback) == ("plotly", "matplotlib", False)
    assert list(event.to_figure().data[0].y) == [2, 1, 3]


def test_failed_conversion_falls_back_to_a_recorded_image(run_factory, plt):
    figure = plt.figure(figsize=(2, 2), dpi=30)
    figure.add_subplot(projection="polar").plot([0, 1], [1, 2])  # plotly's converter has no polar axes
    run = run_factory()
    run.log_mpl_plotly_chart("pie", figure, step=2)
    (event,) = charts_of(run, "pie")
    assert (event.kind, event.fallback, event.is_fallback) == ("image", "image", True)
    assert event.reason
    assert event.value["path"] == "assets/chart/pie_2.png"
    assert event.to_figure().size == (60, 60)


def test_fallback_can_be_refused(run_factory, plt, monkeypatch):
    figure, _ = plt.subplots()
    monkeypatch.setitem(sys.modules, "plotly.tools", None)
    run = run_factory()
    with pytest.raises(MissingDependencyError, match=r"labbook\[plots\]"):
        run.log_mpl_plotly_chart("x", figure, fallback_to_image=False)
    run.log_mpl_plotly_chart("x", figure, step=1)
    (event,) = charts_of(run, "x")
    assert event.fallback == "image" and "plotly" in event.reason


@pytest.mark.parametrize(
    "call, message",
    [
        pytest.param(lambda r: r.log_plotly_chart("c", "figure"), "plotly Figure", id="plotly-str"),
        pytest.param(lambda r: r.log_plotly_chart("c", {"data": [{"type": "nonsense"}]}), "not a valid plotly",
                     id="plotly-bad-dict"),
        pytest.param(lambda r: r.log_bokeh_chart("c", {"a": 1}), "bokeh model", id="bokeh"),
        pytest.param(lambda r: r.log_altair_chart("c", [1, 2]), "altair chart", id="altair"),
        pytest.param(lambda r: r.log_mpl_plotly_chart("c", object()), "matplotlib Figure", id="mpl"),
        pytest.param(lambda r: r.log_plotly_chart("", {"data": []}), None, id="empty-name"),
    ],
)
def test_bad_charts_are_refused(run_factory, call, message):
    run = run_factory()
    with pytest.raises((InvalidValueError, labbook.errors.InvalidNameError), match=message):
        call(run)
