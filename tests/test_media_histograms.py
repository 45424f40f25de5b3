"""log_histogram and log_np_histogram: numpy's meaning, Polyaxon's order accepted, property tests."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import labbook
from labbook.errors import InvalidValueError
from labbook.media.histograms import DEFAULT_MAX_BINS, histogram_value, np_histogram_value
from labbook.media.typed import read_typed


def histograms_of(run, name):
    run.flush()
    return read_typed(labbook.get_run(run.uuid), "histogram", name)


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


# numpy's own reference histogram and np.diff overflow on spreads near the float maximum
@pytest.mark.filterwarnings("ignore:(overflow|invalid value) encountered:RuntimeWarning")
@settings(max_examples=60, deadline=None)
@given(
    values=hnp.arrays(np.float64, st.integers(1, 300),
                      elements=finite | st.sampled_from([np.nan, np.inf, 5e-324, -1e308, 1e308])),
    bins=st.one_of(st.integers(1, 50), st.sampled_from(["auto", "fd", "sturges", "sqrt"])),
)
def test_histogram_counts_every_finite_value_once(values, bins):
    finite_values = values[np.isfinite(values)]
    if not finite_values.size:
        with pytest.raises(InvalidValueError, match="none is finite"):
            histogram_value("log_histogram", values, bins, None)
        return
    value = histogram_value("log_histogram", values, bins, None)
    edges, counts = np.asarray(value["edges"]), np.asarray(value["counts"])
    assert len(edges) == len(counts) + 1 <= DEFAULT_MAX_BINS + 1
    assert (np.diff(edges) >= 0).all()
    assert counts.sum() == finite_values.size
    assert value["nonfinite"] == values.size - finite_values.size
    if isinstance(bins, int):
        try:
            expected = np.histogram(finite_values, bins)[0]
        except (ValueError, IndexError):  # numpy fails on spreads too small or too large for the bins
            assert len(counts) <= bins
        else:
            assert np.array_equal(counts, expected)


@settings(max_examples=60, deadline=None)
@given(
    counts=hnp.arrays(np.int64, st.integers(1, 40), elements=st.integers(0, 10**9)),
    start=st.floats(-1e3, 1e3),
    polyaxon_order=st.booleans(),
)
def test_np_histogram_reads_either_order(counts, start, polyaxon_order):
    edges = start + np.arange(len(counts) + 1, dtype=np.float64)
    value = (np_histogram_value("f", counts, edges) if polyaxon_order
             else np_histogram_value("f", edges, counts))
    assert value["edges"] == edges.tolist()
    assert value["counts"] == counts.tolist()


def test_seed_style_np_histogram_round_trips(run_factory):
    run = run_factory()
    hist, edges = np.histogram(np.random.randint(255, size=(1000,)))
    run.log_np_histogram("np-hist", values=hist, counts=edges, step=1)  # Polyaxon's names
    run.log_np_histogram("np-hist", edges, hist, step=2)  # numpy's meaning of the names
    first, second = histograms_of(run, "np-hist")
    for event in (first, second):
        assert np.array_equal(event.counts, hist)
        assert np.allclose(event.edges, edges)


def test_log_histogram_stores_edges_and_counts(run_factory):
    run = run_factory()
    data = np.concatenate([np.random.random(1000), [np.nan]])
    run.log_histogram("distribution", data, "auto", step=3)
    (event,) = histograms_of(run, "distribution")
    assert event.step == 3
    assert event.counts.sum() == 1000 and event.nonfinite == 1
    assert event.edges[0] >= 0 and event.edges[-1] <= 1


def test_auto_rule_is_capped_at_max_bins():
    value = histogram_value("log_histogram", np.arange(100000.0), "sqrt", 64)
    assert len(value["counts"]) == 64


@pytest.mark.parametrize(
    "call, message",
    [
        pytest.param(lambda: histogram_value("f", [], "auto", None), "values is empty", id="empty"),
        pytest.param(lambda: histogram_value("f", [1, 2], 1000, None), "max_bins=512", id="too-many-bins"),
        pytest.param(lambda: histogram_value("f", [1, 2], 10, 0), "max_bins", id="max-bins"),
        pytest.param(lambda: histogram_value("f", ["a"], 10, None), "values has dtype", id="strings"),
        pytest.param(lambda: histogram_value("f", [1, 2], "nonsense", None), "not a numpy binning",
                     id="rule"),
        pytest.param(lambda: histogram_value("f", [1, 2], [3, 2, 1], None), "increasing", id="edges"),
        pytest.param(lambda: np_histogram_value("f", [1, 2, 3], [1, 2, 3]), "exactly one longer",
                     id="same-length"),
        pytest.param(lambda: np_histogram_value("f", [[1, 2]], [1]), "values has shape", id="2-d"),
        pytest.param(lambda: np_histogram_value("f", [3, 1, 2], [5, 5]), "increasing", id="unsorted-edges"),
    ],
)
def test_bad_histograms_are_refused(call, message):
    with pytest.raises(InvalidValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        call()
