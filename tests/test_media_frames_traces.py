"""log_dataframe (CSV, Parquet, HTML) and log_trace (nested spans)."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

import labbook
from labbook.errors import InvalidValueError, MissingDependencyError
from labbook.media.traces import Span
from labbook.media.typed import read_typed


def events_of(run, kind, name):
    run.flush()
    assert run._writer.errors == []
    return read_typed(labbook.get_run(run.uuid), kind, name)


@pytest.mark.parametrize("content_type", ["csv", "parquet", "html"])
def test_dataframe_is_written_with_the_right_extension(run_factory, content_type):
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}, index=[10, 20, 30])
    run = run_factory()
    run.log_dataframe(frame, "preds", content_type, step=5)
    frame.loc[10, "a"] = 99  # later changes are not recorded
    (event,) = events_of(run, "dataframe", "preds")
    assert event.value == {"path": f"assets/dataframe/preds_5.{content_type}", "content_type": content_type,
                           "rows": 3, "columns": 2}
    if content_type == "html":  # reading HTML back needs lxml, which the data extra does not pull in
        text = event.path.read_text()
        assert text.startswith("<table") and "<td>z</td>" in text and "99" not in text
        return
    loaded = event.load()
    assert loaded["a"].tolist() == [1, 2, 3] and loaded["b"].tolist() == ["x", "y", "z"]


def test_dataframe_content_type_enum_value_gives_a_clean_extension(run_factory):
    import enum

    class Kind(enum.Enum):
        CSV = "csv"

    run = run_factory()
    run.log_dataframe(pd.Series([1, 2], name="s"), "series", Kind.CSV, step=1)
    assert events_of(run, "dataframe", "series")[0].value["path"] == "assets/dataframe/series_1.csv"


@pytest.mark.parametrize(
    "call, error, message",
    [
        pytest.param(lambda r: r.log_dataframe([1, 2], "d"), InvalidValueError, "pandas DataFrame", id="list"),
        pytest.param(lambda r: r.log_dataframe(pd.DataFrame({"a": [1]}), "d", "xlsx"), InvalidValueError,
                     "content_type='xlsx'", id="xlsx"),
        pytest.param(lambda r: r.log_dataframe(pd.DataFrame({"a": [1, "x", 2.5, object()]}), "d", "parquet"),
                     InvalidValueError, "cannot be stored as Parquet", id="parquet-mixed"),
    ],
)
def test_bad_dataframes_are_refused(run_factory, call, error, message):
    run = run_factory()
    with pytest.raises(error, match=message):
        call(run)


def test_missing_pyarrow_names_the_data_extra(run_factory, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    run = run_factory()
    with pytest.raises(MissingDependencyError, match=r"labbook\[data\]"):
        run.log_dataframe(pd.DataFrame({"a": [1]}), "d", "parquet")


def test_trace_tree_round_trips_and_sets_inputs_outputs(run_factory):
    root = Span("answer", kind="chain", inputs={"question": "2+2?"}, outputs={"answer": "4"},
                children=[Span("retrieve", kind="retriever", metadata={"k": np.int64(3)}),
                          {"name": "llm", "kind": "llm", "metadata": {"tokens": 12},
                           "children": [{"name": "tool", "kind": "tool"}]}])
    run = run_factory()
    run.log_trace(root, step=1)
    (event,) = events_of(run, "span", "answer")
    assert [(depth, span["name"], span["kind"]) for depth, span in event.walk()] == [
        (0, "answer", "chain"), (1, "retrieve", "retriever"), (1, "llm", "llm"), (2, "tool", "tool")]
    assert event.value["children"][0]["metadata"] == {"k": 3}
    assert event.value["uuid"] == root.uuid
    assert run.inputs["question"] == "2+2?" and run.outputs["answer"] == "4"


@pytest.mark.parametrize(
    "span, message",
    [
        pytest.param({"kind": "llm"}, "span has name None", id="no-name"),
        pytest.param({"name": "x", "kind": "robot"}, "kind 'robot'", id="kind"),
        pytest.param({"name": "x", "children": [{"name": ""}]}, r"span.children\[0\] has name ''", id="child"),
        pytest.param({"name": "x", "metadata": {"f": object()}}, "span.metadata", id="not-json"),
        pytest.param("trace", "Span or a dict", id="str"),
    ],
)
def test_bad_traces_are_refused(run_factory, span, message):
    run = run_factory()
    with pytest.raises(InvalidValueError, match=message):
        run.log_trace(span)


def test_cyclic_trace_is_refused(run_factory):
    root = Span("loop")
    root.children.append(root)
    with pytest.raises(InvalidValueError, match="nested more than"):
        run_factory().log_trace(root)


def test_read_api_returns_typed_media_events(run_factory):
    import numpy as np

    import labbook
    from labbook import tracking
    from labbook.media.typed import ImageEvent

    run = run_factory()
    run.log_image(np.zeros((4, 6, 3), dtype=np.uint8), name="img", dataformats="HWC", step=1)
    run.log_text("t", "plain", step=1)
    run.log_trace(tracking.Span("root", kind="chain"), step=1)
    run.end()
    record = labbook.get_run(run.uuid)
    (image,) = record.events("image", "img")
    assert isinstance(image, ImageEvent) and image.step == 1
    assert (image.width, image.height) == (6, 4) and image.path.is_file()
    assert record.events("text", "t")[0].value == "plain"  # plain kinds stay plain events
    assert record.events("span", "root")[0].value["name"] == "root"
