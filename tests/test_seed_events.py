"""The example program of the tracking-metadata guide runs unchanged but for its import.

``PROGRAM`` is every snippet of that guide, in order, with ``from polyaxon import tracking``
replaced by ``from labbook import tracking`` and nothing else changed. The snippets share one
namespace and use ``random`` and ``numpy`` before the snippet that imports them, so the test
runs them after those two imports. It then reads back every event of steps 1-4 and opens every
asset: PNGs decode, WAVs have the right rate and length, charts load in their libraries.
"""

from __future__ import annotations

import warnings
import wave

import numpy as np
import pytest

import labbook
from labbook.media.typed import read_typed
from labbook.store.layout import safe_join

STEPS = [1, 2, 3, 4]

PROGRAM = r'''
from labbook import tracking

tracking.log_outputs(foo="bar", scalar=0.1, key="val")

from labbook import tracking

def get_loss(step):
    result = 10 / (step + 1)
    noise = (random.random() - 0.5) * 0.5 * result
    return result + noise

def get_accuracy(loss):
    return (100 - loss) / 100.0

for i in range(1, 5):
    loss = get_loss(i)
    accuracy = get_accuracy(loss)
    tracking.log_metrics(loss=loss, accuracy=accuracy, step=i)

from labbook import tracking

for i in range(1, 5):
    tracking.log_text(name="text-event", value="value at step {}".format(i), step=i)

from labbook import tracking

def get_html(step):
    return (
        '<span><a href="https://link.com">This is a link {step} </a>'
        '<b>Some more html at step {step}</b></span>'.format(step=step)
    )

for i in range(1, 5):
    tracking.log_html(name="text-event", html=get_html(i), step=i)

import numpy as np

from labbook import tracking

def get_audio(step):
    sample_rate = 44100 + step
    freqs = 440
    dummy_audio = np.arange(sample_rate * 2, dtype=np.float32)
    return np.cos(dummy_audio * (2.0 * freqs * np.pi / sample_rate))

for i in range(1, 5):
    tracking.log_audio(data=get_audio(i), name='audio-ex', step=i)

from labbook import tracking

def get_dist(step):
    x = np.random.random(1000)
    return x + step


def get_np_hist(step):
    values, counts = np.histogram(np.random.randint(255, size=(1000,)))
    return {"values": values, "counts": counts, "step": step}

for i in range(1, 5):
    tracking.log_histogram('distribution', get_dist(i), 'auto', step=i)
    tracking.log_np_histogram('np-hist', **get_np_hist(i))

import random

import altair as alt
import matplotlib.pyplot as plt
import numpy as np
import plotly.express as px
from bokeh.plotting import figure
from vega_datasets import data

from labbook import tracking


def plot_scatter(step):
    x = np.random.randn(step)
    y = np.random.randn(step)

    left, width = 0.1, 0.65
    bottom, height = 0.1, 0.65
    spacing = 0.005

    rect_scatter = [left, bottom, width, height]
    rect_histx = [left, bottom + height + spacing, width, 0.2]
    rect_histy = [left + width + spacing, bottom, 0.2, height]

    figure = plt.figure(figsize=(8, 8))

    ax_scatter = plt.axes(rect_scatter)
    ax_scatter.tick_params(direction='in', top=True, right=True)
    ax_histx = plt.axes(rect_histx)
    ax_histx.tick_params(direction='in', labelbottom=False)
    ax_histy = plt.axes(rect_histy)
    ax_histy.tick_params(direction='in', labelleft=False)
    ax_scatter.scatter(x, y)

    binwidth = 0.25
    lim = np.ceil(np.abs([x, y]).max() / binwidth) * binwidth
    ax_scatter.set_xlim((-lim, lim))
    ax_scatter.set_ylim((-lim, lim))

    bins = np.arange(-lim, lim + binwidth, binwidth)
    ax_histx.hist(x, bins=bins)
    ax_histy.hist(y, bins=bins, orientation='horizontal')

    ax_histx.set_xlim(ax_scatter.get_xlim())
    ax_histy.set_ylim(ax_scatter.get_ylim())
    tracking.log_mpl_plotly_chart(name='scatter', figure=figure, step=step)


def plot_mpl_figure(step):
    np.random.seed(step)
    data = np.random.randn(2, 100)

    figure, axs = plt.subplots(2, 2, figsize=(5, 5))
    axs[0, 0].hist(data[0])
    axs[1, 0].scatter(data[0], data[1])
    axs[0, 1].plot(data[0], data[1])
    axs[1, 1].hist2d(data[0], data[1])

    tracking.log_mpl_image(figure, 'mpl_image', step=step)


def log_bokeh(step):
    factors = ["a", "b", "c", "d", "e", "f", "g", "h"]
    x = [50, 40, 65, 10, 25, 37, 80, 60]

    dot = figure(title="Categorical Dot Plot", tools="", toolbar_location=None,
                 y_range=factors, x_range=[0, 100])

    dot.segment(0, factors, x, factors, line_width=2, line_color="green", )
    dot.circle(x, factors, size=15, fill_color="orange", line_color="green", line_width=3, )

    factors = ["foo 123", "bar:0.2", "baz-10"]
    x = ["foo 123", "foo 123", "foo 123", "bar:0.2", "bar:0.2", "bar:0.2", "baz-10", "baz-10",
         "baz-10"]
    y = ["foo 123", "bar:0.2", "baz-10", "foo 123", "bar:0.2", "baz-10", "foo 123", "bar:0.2",
         "baz-10"]
    colors = [
        "#0B486B", "#79BD9A", "#CFF09E",
        "#79BD9A", "#0B486B", "#79BD9A",
        "#CFF09E", "#79BD9A", "#0B486B"
    ]

    hm = figure(title="Categorical Heatmap", tools="hover", toolbar_location=None,
                x_range=factors, y_range=factors)

    hm.rect(x, y, color=colors, width=1, height=1)

    tracking.log_bokeh_chart(name='confusion-bokeh', figure=hm, step=step)


def log_altair(step):
    source = data.cars()

    brush = alt.selection(type='interval')

    points = alt.Chart(source).mark_point().encode(
        x='Horsepower:Q',
        y='Miles_per_Gallon:Q',
        color=alt.condition(brush, 'Origin:N', alt.value('lightgray'))
    ).add_selection(
        brush
    )

    bars = alt.Chart(source).mark_bar().encode(
        y='Origin:N',
        color='Origin:N',
        x='count(Origin):Q'
    ).transform_filter(
        brush
    )

    chart = points & bars

    tracking.log_altair_chart(name='altair_chart', figure=chart, step=step)


def log_curves(step):
    # ROC curve
    x = [
        0.0,
        0.0,
        0.0,
        0.0196078431372549,
        0.0196078431372549,
        0.0784313725490196,
        0.0784313725490196,
        0.09803921568627451,
        0.09803921568627451,
        0.11764705882352941,
        0.11764705882352941,
        0.13725490196078433,
        0.13725490196078433,
        0.1568627450980392,
        0.1568627450980392,
        0.17647058823529413,
        0.17647058823529413,
        0.3137254901960784,
        0.3137254901960784,
        0.3333333333333333,
        0.3333333333333333,
        0.35294117647058826,
        0.35294117647058826,
        0.4117647058823529,
        0.4117647058823529,
        0.45098039215686275,
        0.45098039215686275,
        0.47058823529411764,
        0.47058823529411764,
        0.5098039215686274,
        0.5098039215686274,
        0.5686274509803921,
        0.5686274509803921,
        1.0
    ]
    y = [
        0.0,
        0.041666666666666664,
        0.125,
        0.125,
        0.25,
        0.25,
        0.2916666666666667,
        0.2916666666666667,
        0.3333333333333333,
        0.3333333333333333,
        0.4166666666666667,
        0.4166666666666667,
        0.5,
        0.5,
        0.5416666666666666,
        0.5416666666666666,
        0.5833333333333334,
        0.5833333333333334,
        0.7083333333333334,
        0.7083333333333334,
        0.75,
        0.75,
        0.7916666666666666,
        0.7916666666666666,
        0.8333333333333334,
        0.8333333333333334,
        0.875,
        0.875,
        0.9166666666666666,
        0.9166666666666666,
        0.9583333333333334,
        0.9583333333333334,
        1.0,
        1.0
    ]
    tracking.log_roc_auc_curve(name='roc-curve-man', fpr=x, tpr=y, auc=0.742149, step=step)

    x = [0.66666667, 0.5, 1., 1.]
    y = [1., 0.5, 0.5, 0.]
    tracking.log_pr_curve(name='pr-curve-man', precision=x, recall=y, average_precision=0.742149,
                          step=step)

    # Random curve
    tracking.log_curve(
        name='random-curve-man', x=np.random.randn(10 * step), y=np.random.randn(10 * step), step=step
    )



def get_sin_plot(step):
    x = np.linspace(0, step * np.pi, 400)
    y = np.sin(x ** 2)

    f, ax = plt.subplots()
    ax.plot(x, y)
    ax.set_title('Simple plot')
    tracking.log_mpl_plotly_chart(name='sin', figure=f, step=step)


def log_confusion(step):
    z = np.array([[0.1, 0.3, 0.5, 0.2],
     [1.0, 0.8, 0.6, 0.1],
     [0.1, 0.3, 0.6, 0.9],
     [0.6, 0.4, 0.2, 0.2]]) * step

    x = ['healthy', 'multiple diseases', 'rust', 'scab']
    y = ['healthy', 'multiple diseases', 'rust', 'scab']
    tracking.log_confusion_matrix("confusion_test", x, y, z.tolist(), step=step)


def log_plotly(step):
    df = px.data.tips()

    fig = px.density_heatmap(df, x="total_bill", y="tip", facet_row="sex", facet_col="smoker")
    tracking.log_plotly_chart(name="2d-hist", figure=fig, step=step)


for i in range(1, 5):
    plot_scatter(i)
    get_sin_plot(i)
    plot_mpl_figure(i)
    log_bokeh(i)
    log_altair(i)
    log_curves(i)
    log_plotly(i)
    log_confusion(i)
'''


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory):
    """Run PROGRAM once for the module (it takes a few seconds) in its own labbook home."""
    pytest.importorskip("vega_datasets")  # the program's altair example reads its cars data
    import matplotlib

    matplotlib.use("Agg")
    from labbook import tracking

    home = tmp_path_factory.mktemp("seed") / "home"
    run = tracking.init(project="seed", name="tracking-guide", home=home, track_code=False,
                        track_env=False, track_logs=False, collect_resources=False, install_handlers=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the guide uses APIs newer libraries deprecate
            namespace = {"__name__": "tracking_guide"}
            exec("import random\nimport numpy as np", namespace)
            exec(compile(PROGRAM, "tracking_guide.py", "exec"), namespace)
    finally:
        tracking.end()
    assert run._writer.errors == []
    return labbook.get_run(run.uuid, home=home)


def series(record, kind, name):
    """The events of one series, one per step 1-4, in step order."""
    events = sorted(read_typed(record, kind, name), key=lambda e: e.step)
    assert [e.step for e in events] == STEPS
    return events


def test_every_series_of_the_program_is_there(seed_run):
    expected = {
        "metric": ["accuracy", "loss"],
        "text": ["text-event"], "html": ["text-event"], "audio": ["audio-ex"],
        "histogram": ["distribution", "np-hist"], "image": ["mpl_image"],
        "chart": ["2d-hist", "altair_chart", "confusion-bokeh", "scatter", "sin"],
        "curve": ["pr-curve-man", "random-curve-man", "roc-curve-man"], "confusion": ["confusion_test"],
    }
    assert set(seed_run.event_kinds()) == set(expected)
    for kind, names in expected.items():
        assert sorted(seed_run.event_names(kind)) == names, kind
    outputs = {k: seed_run.outputs[k] for k in ("foo", "scalar", "key")}
    assert outputs == {"foo": "bar", "scalar": 0.1, "key": "val"}


def test_metrics_text_and_html(seed_run):
    loss = seed_run.metric("loss")
    assert loss.steps.tolist() == STEPS
    assert np.allclose(seed_run.metric("accuracy").values, (100 - loss.values) / 100.0)
    texts = series(seed_run, "text", "text-event")
    assert [e.value for e in texts] == [f"value at step {i}" for i in STEPS]
    html = series(seed_run, "html", "text-event")
    assert all(f"Some more html at step {i}" in e.value for i, e in zip(STEPS, html))


def test_audio_files_have_the_rate_and_length(seed_run):
    for step, event in zip(STEPS, series(seed_run, "audio", "audio-ex")):
        assert event.value["path"] == f"assets/audio/audio-ex_{step}.wav"
        with wave.open(str(event.path), "rb") as handle:
            assert handle.getframerate() == 44100  # the guide logs with the default rate
            assert handle.getnframes() == (44100 + step) * 2 == event.length_frames
            assert handle.getnchannels() == 1
        rate, samples = event.read()
        expected = np.cos(np.arange((44100 + step) * 2, dtype=np.float32) * (2.0 * 440 * np.pi / (44100 + step)))
        assert np.abs(samples[:, 0] / 32767 - expected).max() < 1e-3


def test_histograms(seed_run):
    for step, event in zip(STEPS, series(seed_run, "histogram", "distribution")):
        assert event.counts.sum() == 1000
        assert step <= event.edges[0] and event.edges[-1] <= step + 1
    for event in series(seed_run, "histogram", "np-hist"):
        assert len(event.edges) == 11 and event.counts.sum() == 1000  # numpy's default 10 bins


def test_images_decode(seed_run):
    for step, event in zip(STEPS, series(seed_run, "image", "mpl_image")):
        assert event.value["path"] == f"assets/image/mpl_image_{step}.png"
        image = event.open()
        assert (image.format, image.size) == ("PNG", (500, 500))  # figsize 5x5 at 100 dpi
        assert (event.width, event.height) == image.size


def test_matplotlib_charts_load_in_plotly(seed_run):
    import plotly.graph_objects as go

    for name in ("scatter", "sin"):
        for event in series(seed_run, "chart", name):
            figure = event.to_figure()
            if event.is_fallback:  # recorded, never silent: the PNG must decode instead
                assert event.reason and figure.format == "PNG"
            else:
                assert isinstance(figure, go.Figure) and event.source == "matplotlib"
    sin = series(seed_run, "chart", "sin")
    assert [len(e.to_figure().data[0].x) for e in sin if not e.is_fallback] == [400] * len(sin)


def test_plotly_bokeh_and_altair_charts_load(seed_run):
    import altair as alt
    import plotly.graph_objects as go
    from bokeh.models import Plot

    for event in series(seed_run, "chart", "2d-hist"):
        assert event.kind == "plotly" and isinstance(event.to_figure(), go.Figure)
        assert len(event.figure["data"]) == 4  # facet_row x facet_col
    for event in series(seed_run, "chart", "confusion-bokeh"):
        plot = event.to_figure()
        assert event.kind == "bokeh" and isinstance(plot, Plot) and plot.title.text == "Categorical Heatmap"
    for event in series(seed_run, "chart", "altair_chart"):
        assert event.kind == "vega"
        chart = alt.Chart.from_dict(event.figure)
        assert isinstance(chart, alt.VConcatChart) and len(event.figure["vconcat"]) == 2
        assert event.figure["datasets"]  # the cars data travels with the spec


def test_curves(seed_run):
    for event in series(seed_run, "curve", "roc-curve-man"):
        assert (event.kind, len(event.x), len(event.y), event.auc) == ("roc", 34, 34, 0.742149)
    for event in series(seed_run, "curve", "pr-curve-man"):
        assert event.kind == "pr" and event.x.tolist() == [0.66666667, 0.5, 1.0, 1.0]
        assert event.average_precision == 0.742149
    for step, event in zip(STEPS, series(seed_run, "curve", "random-curve-man")):
        assert event.kind == "custom" and len(event.x) == len(event.y) == 10 * step


def test_confusion_matrices(seed_run):
    base = np.array([[0.1, 0.3, 0.5, 0.2], [1.0, 0.8, 0.6, 0.1], [0.1, 0.3, 0.6, 0.9], [0.6, 0.4, 0.2, 0.2]])
    labels = ["healthy", "multiple diseases", "rust", "scab"]
    for step, event in zip(STEPS, series(seed_run, "confusion", "confusion_test")):
        assert event.x == labels and event.y == labels
        assert np.allclose(event.matrix, base * step)


def test_every_asset_is_inside_the_run_folder_and_referenced(seed_run):
    referenced = set()
    for kind in ("audio", "image", "chart"):
        for name in seed_run.event_names(kind):
            for event in read_typed(seed_run, kind, name):
                if "path" in event.value:
                    referenced.add(safe_join(seed_run.path, event.value["path"]))
    on_disk = {p for p in (seed_run.path / "assets").rglob("*") if p.is_file()}
    assert on_disk == referenced
