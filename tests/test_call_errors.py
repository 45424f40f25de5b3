"""Values and arguments at the call: one JSON rule for what is stored (NaN stays NaN), and a
wrong argument is a LabbookError naming it, before anything is written."""

from __future__ import annotations

import math
import uuid

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import labbook
from labbook import tracking
from labbook.errors import ConfigError, InvalidNameError, InvalidTypeError, InvalidValueError, LabbookError
from labbook.store.record import json_float, to_json_value


def _stored(run, section: str):
    run.flush()
    return orjson.loads((run.path / "run.json").read_bytes())[section]


@pytest.mark.parametrize("value, expected", [
    pytest.param(np.float32("nan"), "nan", id="float32-nan"),
    pytest.param(np.float16("-inf"), "-inf", id="float16-inf"),
    pytest.param(np.float64("inf"), "inf", id="float64-inf"),
    pytest.param(float("nan"), "nan", id="float-nan"),
    pytest.param(np.array([1.0, np.nan, np.inf]), [1.0, "nan", "inf"], id="array"),
    pytest.param(np.array([[np.nan], [2.0]], dtype=np.float32), [["nan"], [2.0]], id="array-2d"),
    pytest.param({"a": [np.float32("nan"), (np.int64(3), float("-inf"))]}, {"a": ["nan", [3, "-inf"]]}, id="nested"),
    pytest.param(np.int64(7), 7, id="int64"),
    pytest.param(np.bool_(True), True, id="bool"),
    pytest.param({3: "x", 2.5: "y", None: 1, True: 2}, {"3": "x", "2.5": "y", "null": 1, "true": 2}, id="keys"),
])
def test_nan_and_numpy_values_are_stored_by_one_rule(run_factory, value, expected):
    run = run_factory()
    run.log_inputs(a=value)
    run.log_outputs(a=value)
    run.log_meta(a=value)
    for section in ("inputs", "outputs", "meta"):
        assert _stored(run, section)["a"] == expected, section
    run.end()
    assert labbook.get_run(run.uuid).inputs["a"] == expected


def test_to_json_value_is_the_one_rule():
    assert to_json_value({"x": np.float32("nan")}) == {"x": "nan"}
    assert [json_float(v) for v in (math.nan, math.inf, -math.inf, 1.5)] == ["nan", "inf", "-inf", 1.5]
    assert to_json_value(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"


TEXT = st.characters(exclude_categories=("Cs",))  # lone surrogates: see the test below


@given(st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text(TEXT),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(TEXT), inner, max_size=4),
    max_leaves=20,
))
def test_to_json_value_keeps_everything_json_can_hold(value):
    converted = to_json_value(value)
    assert orjson.loads(orjson.dumps(converted)) == converted  # pure JSON data, nothing dropped

    def same(a, b):
        if isinstance(a, float) and not math.isfinite(a):
            return b == json_float(a)
        if isinstance(a, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, list):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        return a == b and type(a) is type(b)

    assert same(value, converted)


def test_keys_that_collide_are_an_error_naming_both(run_factory):
    run = run_factory()
    with pytest.raises(InvalidValueError) as error:
        run.log_inputs(c={1: "x", "1": "y"})
    assert "1" in str(error.value) and "'1'" in str(error.value) and "Rename" in str(error.value)
    with pytest.raises(InvalidValueError, match="True.*'true'"):
        run.log_meta(m={True: 1, "true": 2})
    assert _stored(run, "inputs") == {} and _stored(run, "meta") == {}


def test_circular_and_deep_values_are_errors(run_factory):
    run = run_factory()
    loop: dict = {}
    loop["self"] = loop
    with pytest.raises(InvalidValueError, match=r"log_inputs: d\['self'\] contains itself"):
        run.log_inputs(d=loop)
    items: list = [1]
    items.append(items)
    with pytest.raises(InvalidValueError, match="contains itself"):
        run.log_outputs(items=items)
    deep: dict = {}
    cursor = deep
    for _ in range(5000):
        cursor["a"] = {}
        cursor = cursor["a"]
    with pytest.raises(InvalidValueError, match="nested more than 100 levels"):
        run.log_meta(deep=deep)
    shared = [1, 2]
    run.log_inputs(pair=[shared, shared])  # the same list twice is not a cycle
    assert _stored(run, "inputs") == {"pair": [[1, 2], [1, 2]]}


def test_values_json_cannot_hold_are_errors_naming_them(run_factory):
    run = run_factory()
    with pytest.raises(InvalidValueError, match=r"log_inputs: f=.*object.*cannot be stored as JSON"):
        run.log_inputs(f=object())
    with pytest.raises(InvalidValueError, match="too large an integer"):
        run.log_inputs(big=2**70)
    with pytest.raises(InvalidValueError, match="keys must be strings or numbers"):
        run.log_inputs(k={(1, 2): "tuple key"})
    with pytest.raises(InvalidValueError, match=r"log_inputs: s\[0\] holds text that is not valid Unicode"):
        run.log_inputs(s=["bad \udc80 surrogate"])


KW = dict(install_handlers=False, track_env=False, track_code=False, track_logs=False, collect_resources=False)


@pytest.mark.parametrize("arguments, kind, needle", [
    pytest.param({"name": object()}, InvalidTypeError, "init(name=...) got object", id="name-object"),
    pytest.param({"name": "a\0b"}, InvalidValueError, "control character '\\x00'", id="name-nul"),
    pytest.param({"name": "x" * 300}, InvalidValueError, "300 characters", id="name-long"),
    pytest.param({"name": "two\nlines"}, InvalidValueError, "control character", id="name-newline"),
    pytest.param({"tags": 5}, InvalidTypeError, "init(tags=...) got int (5)", id="tags-int"),
    pytest.param({"tags": b"ab"}, InvalidTypeError, "init(tags=...) got bytes", id="tags-bytes"),
    pytest.param({"tags": ["ok", 3]}, InvalidTypeError, "every tag must be a str", id="tags-item"),
    pytest.param({"description": b"x"}, InvalidTypeError, "init(description=...) got bytes", id="description"),
    pytest.param({"project": 5}, InvalidTypeError, "init(project=...) got int", id="project"),
    pytest.param({"owner": ["me"]}, InvalidTypeError, "init(owner=...) got list", id="owner"),
    pytest.param({"run_uuid": 3.5}, InvalidTypeError, "init(run_uuid=...) got float", id="run-uuid"),
    pytest.param({"artifacts_path": 5}, InvalidTypeError, "init(artifacts_path=...) got int", id="artifacts-path"),
    pytest.param({"home": 5}, InvalidTypeError, "init(home=...) got int", id="home"),
    pytest.param({"track_code": "no"}, InvalidTypeError, "init(track_code=...) got str", id="track-code"),
    pytest.param({"track_logs": 2}, InvalidTypeError, "pass True or False", id="track-logs"),
    pytest.param({"is_new": "yes"}, InvalidTypeError, "init(is_new=...)", id="is-new"),
    pytest.param({"no_op": "0"}, InvalidTypeError, "init(no_op=...)", id="no-op"),
    pytest.param({"settings": {"a": 1}}, InvalidTypeError, "init(settings=...) got dict", id="settings"),
    pytest.param({"flush_interval": "fast"}, ConfigError, "flush_interval='fast'", id="flush-interval"),
])
@pytest.mark.parametrize("entry", ["init", "Run"])
def test_wrong_init_arguments_are_labbook_errors(home, arguments, kind, needle, entry):
    call = tracking.init if entry == "init" else tracking.Run
    with pytest.raises(kind) as error:
        call(**{"project": "p", **KW, **arguments})
    assert needle in str(error.value)
    assert isinstance(error.value, LabbookError)
    if kind is InvalidTypeError:
        assert isinstance(error.value, TypeError)
    assert not (home / "artifacts").exists() or not any((home / "artifacts").rglob("run.json"))


def test_positional_init_arguments_are_checked_too(home):
    with pytest.raises(InvalidTypeError, match=r"init\(owner=...\)"):
        tracking.Run(5, "p", **KW)


@pytest.mark.parametrize("call, kind, needle", [
    pytest.param(lambda r: r.log_tags(5), InvalidTypeError, "log_tags(tags=...) got int", id="log_tags"),
    pytest.param(lambda r: r.log_tags([None]), InvalidTypeError, "every tag must be a str", id="log_tags-item"),
    pytest.param(lambda r: r.log_progress("half"), InvalidTypeError, "log_progress", id="progress-type"),
    pytest.param(lambda r: r.log_progress(1.5), InvalidValueError, "in [0, 1]", id="progress-range"),
    pytest.param(lambda r: r.set_name(object()), InvalidTypeError, "set_name(name=...) got object", id="set_name"),
    pytest.param(lambda r: r.set_name("x" * 300), InvalidValueError, "300 characters", id="set_name-long"),
    pytest.param(lambda r: r.set_description(b"x"), InvalidTypeError, "set_description(description=...)",
                 id="set_description"),
    pytest.param(lambda r: r.set_readme(5), InvalidTypeError, "set_readme(readme=...) got int", id="set_readme"),
    pytest.param(lambda r: r.log_inputs(reset="yes", a=1), InvalidTypeError, "log_inputs(reset=...)",
                 id="log_inputs-reset"),
    pytest.param(lambda r: r.log_tags(["x"], reset="no"), InvalidTypeError, "log_tags(reset=...)",
                 id="log_tags-reset"),
    pytest.param(lambda r: r.update(5), InvalidTypeError, "update", id="update"),
    pytest.param(lambda r: r.update({"inputs": 5}), InvalidTypeError, "update", id="update-inputs"),
    pytest.param(lambda r: r.update({"name": "a\0"}), InvalidValueError, "control character", id="update-name"),
    pytest.param(lambda r: r.log_artifact_ref(5), InvalidTypeError, "log_artifact_ref(path=...) got int",
                 id="artifact_ref"),
    pytest.param(lambda r: r.log_file_ref("a.txt", hash=5), InvalidTypeError, "log_file_ref(hash=...)",
                 id="file_ref-hash"),
    pytest.param(lambda r: r.log_data_ref("d", path=3.5), InvalidTypeError, "log_data_ref(path=...)",
                 id="data_ref-path"),
    pytest.param(lambda r: r.log_model_ref("m.pt", rel_path=1), InvalidTypeError, "log_model_ref(rel_path=...)",
                 id="model_ref-rel"),
    pytest.param(lambda r: r.log_dir_ref("d", is_input="yes"), InvalidTypeError, "log_dir_ref(is_input=...)",
                 id="dir_ref-flag"),
])
def test_wrong_arguments_of_run_methods_are_labbook_errors(run_factory, call, kind, needle):
    run = run_factory(name="before", tags=["t"])
    with pytest.raises(kind) as error:
        call(run)
    assert needle in str(error.value)
    assert isinstance(error.value, LabbookError)
    if kind is InvalidTypeError:
        assert isinstance(error.value, (TypeError, ValueError))
    run.flush()
    record = orjson.loads((run.path / "run.json").read_bytes())
    assert record["name"] == "before" and record["tags"] == ["t"]
    assert not (run.path / "lineage.jsonl").exists() or (run.path / "lineage.jsonl").read_text() == ""


def test_type_errors_stay_catchable_as_before():
    error = InvalidTypeError("x")
    assert isinstance(error, TypeError) and isinstance(error, ValueError)
    assert isinstance(error, InvalidValueError) and isinstance(error, LabbookError)
    assert issubclass(InvalidNameError, ValueError)
