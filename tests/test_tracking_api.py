"""The tracking API: surface, seed examples, params, metrics, lifecycle."""

from __future__ import annotations

import inspect
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import labbook
from labbook import tracking
from labbook.errors import ConfigError, InvalidNameError, InvalidValueError, NoActiveRunError, RunStateError
from labbook.store.runfile import read_run_file
from labbook.tracking.run import Run

# reference/polyaxon-tracking.md §1.1: every name in Polyaxon's tracking __all__, plus log_trace.
POLYAXON_NAMES = """V1ArtifactKind V1RunArtifact Run init get_or_create_run update get_artifacts_path
get_outputs_path get_tensorboard_path set_artifacts_path set_run_event_logger set_run_resource_logger
set_run_process_sidecar log_metric log_metrics log_roc_auc_curve log_sklearn_roc_auc_curve log_pr_curve
log_sklearn_pr_curve log_curve log_confusion_matrix log_image log_image_with_boxes log_mpl_image
log_video log_audio log_text log_html log_np_histogram log_histogram log_model log_artifact
log_dataframe log_plotly_chart log_bokeh_chart log_altair_chart log_mpl_plotly_chart get_log_level
set_readme set_description set_name end log_status log_inputs log_outputs log_tags log_meta
log_progress log_succeeded log_stopped log_failed log_artifact_ref log_tensorboard_ref log_model_ref
log_code_ref log_data_ref log_file_ref log_dir_ref log_artifact_lineage log_env
sync_events_summaries sync_system_events_summaries pull_remote_run push_offline_run
promote_to_model_version promote_to_artifact_version log_trace""".split()

# Owned by the sync layer, not built yet: they raise NotImplementedError naming what is missing.
SYNC_FUNCTIONS = ("pull_remote_run", "push_offline_run")  # with a server: tests/test_sync.py
MODULE_ONLY = {"V1ArtifactKind", "V1RunArtifact", "Run", "init", "get_or_create_run"}


def _read(run) -> dict:
    return read_run_file(Path(run.path) / "run.json")


@pytest.mark.parametrize("name", POLYAXON_NAMES)
def test_every_polyaxon_name_exists_on_both_surfaces(name):
    assert hasattr(tracking, name), f"tracking.{name} is missing"
    if name not in MODULE_ONLY:
        assert callable(getattr(Run, name)), f"Run.{name} is missing"


@pytest.mark.parametrize("name", sorted(tracking.FORWARDED))
def test_module_function_has_the_run_method_signature(name):
    method = inspect.signature(getattr(Run, name))
    function = inspect.signature(getattr(tracking, name))
    assert list(function.parameters) == list(method.parameters)[1:]
    for param in function.parameters.values():
        assert param.default == method.parameters[param.name].default
    assert getattr(tracking, name).__doc__ == getattr(Run, name).__doc__


def test_public_surfaces_are_declared_and_sorted():
    for module in (labbook, tracking):
        assert module.__all__ == sorted(module.__all__)
        for name in module.__all__:
            assert getattr(module, name) is not None


@pytest.mark.parametrize("name", SYNC_FUNCTIONS)
def test_sync_functions_without_a_server_say_how_to_name_one(run_factory, name):
    run = run_factory()
    with pytest.raises(ConfigError, match="LABBOOK_HOST"):
        getattr(run, name)()


def test_calls_without_an_active_run_say_how_to_start_one():
    with pytest.raises(NoActiveRunError, match=r"log_metrics\(\) needs an active run.*tracking.init"):
        tracking.log_metrics(loss=1.0)


def test_seed_examples_run_with_only_the_import_changed(home):
    import random

    tracking.init(project="seed")
    tracking.log_outputs(foo="bar", scalar=0.1, key="val")

    def get_loss(step):
        result = 10 / (step + 1)
        noise = (random.random() - 0.5) * 0.5 * result
        return result + noise

    def get_accuracy(loss):
        return (100 - loss) / 100.0

    logged = {}
    for i in range(1, 5):
        loss = get_loss(i)
        accuracy = get_accuracy(loss)
        tracking.log_metrics(loss=loss, accuracy=accuracy, step=i)
        logged[i] = (loss, accuracy)
    for i in range(1, 5):
        tracking.log_text(name="text-event", value="value at step {}".format(i), step=i)

    def get_html(step):
        return ('<span><a href="https://link.com">This is a link {step} </a>'
                '<b>Some more html at step {step}</b></span>'.format(step=step))

    for i in range(1, 5):
        tracking.log_html(name="text-event", html=get_html(i), step=i)
    root = tracking.get_artifacts_path()
    code_file = tracking.get_artifacts_path("code/file.py")
    model = tracking.get_outputs_path("model/model.h5")
    sub = tracking.get_outputs_path("sub-folder", is_dir=True)
    run = tracking.get_run()
    tracking.end()

    assert code_file == str(Path(root) / "code" / "file.py")
    assert model == str(Path(root) / "outputs" / "model" / "model.h5")
    assert Path(model).parent.is_dir() and Path(sub).is_dir()
    record = labbook.get_run(run.uuid)
    assert record.outputs == {"foo": "bar", "scalar": 0.1, "key": "val"}
    assert record.status == "succeeded"
    loss, accuracy = record.metric("loss"), record.metric("accuracy")
    assert loss.steps.tolist() == [1, 2, 3, 4]
    assert loss.values.tolist() == [logged[i][0] for i in range(1, 5)]
    assert accuracy.values.tolist() == [logged[i][1] for i in range(1, 5)]
    texts = record.events("text", "text-event")
    assert [(e.step, e.value) for e in texts] == [(i, f"value at step {i}") for i in range(1, 5)]
    htmls = record.events("html", "text-event")
    assert [e.value for e in htmls] == [get_html(i) for i in range(1, 5)]


def test_inputs_keep_their_types_and_merge(run_factory):
    run = run_factory()
    run.log_inputs(lr=0.01, epochs=10, name="adam", flag=True, nothing=None,
                   nested={"a": {"b": [1, 2.5, "x"]}}, np_value=np.float32(0.5), array=np.arange(3))
    run.log_inputs(epochs=20)
    run.flush()
    inputs = _read(run)["inputs"]
    assert inputs == {"lr": 0.01, "epochs": 20, "name": "adam", "flag": True, "nothing": None,
                      "nested": {"a": {"b": [1, 2.5, "x"]}}, "np_value": 0.5, "array": [0, 1, 2]}
    assert type(inputs["epochs"]) is int and type(inputs["flag"]) is bool
    run.log_inputs(reset=True, only=1)
    run.flush()
    assert _read(run)["inputs"] == {"only": 1}


def test_unstorable_param_names_the_key(run_factory):
    run = run_factory()
    with pytest.raises(InvalidValueError, match=r"model=.*cannot be stored as JSON"):
        run.log_inputs(model=object())


def test_tags_name_description_readme_progress(run_factory):
    run = run_factory(tags=["a"])
    run.log_tags(["b", "a", "c"])
    run.log_tags("d")
    run.set_name("renamed")
    run.set_description("about")
    run.set_readme("# Title")
    run.log_progress(0.25)
    with pytest.raises(InvalidValueError, match="progress"):
        run.log_progress(1.5)
    run.flush()
    data = _read(run)
    assert data["tags"] == ["a", "b", "c", "d"]
    assert (data["name"], data["description"], data["readme"]) == ("renamed", "about", "# Title")
    assert data["meta"]["progress"] == 0.25
    run.log_tags(["z"], reset=True)
    run.flush()
    assert _read(run)["tags"] == ["z"]


@pytest.mark.parametrize("value, expected", [
    pytest.param(1, 1.0, id="int"),
    pytest.param(0.25, 0.25, id="float"),
    pytest.param(True, 1.0, id="bool"),
    pytest.param(np.float32(0.5), 0.5, id="numpy-float32"),
    pytest.param(np.int64(7), 7.0, id="numpy-int64"),
    pytest.param(np.array(3.5), 3.5, id="0-d-array"),
    pytest.param(float("nan"), "nan", id="nan"),
    pytest.param(float("inf"), math.inf, id="inf"),
    pytest.param(-math.inf, -math.inf, id="minus-inf"),
])
def test_metric_values_are_stored_faithfully(run_factory, value, expected):
    run = run_factory()
    run.log_metric("m", value, step=3)
    run.end()
    series = labbook.get_run(run.uuid).metric("m")
    got = series.values[0]
    assert math.isnan(got) if expected == "nan" else got == expected
    assert series.steps.tolist() == [3]


class _TensorLike:
    """Stands in for a torch scalar: shape () and item(), as torch.Tensor has (CUDA included)."""

    shape = ()

    def __init__(self, value):
        self._value = value

    def item(self):
        return self._value


def test_tensor_like_scalars_are_accepted(run_factory):
    run = run_factory()
    run.log_metric("t", _TensorLike(0.75))
    run.end()
    assert labbook.get_run(run.uuid).metric("t").values.tolist() == [0.75]


@pytest.mark.parametrize("value, message", [
    pytest.param("0.3", r"log_metric\('loss'\) got str.*Use log_text", id="str"),
    pytest.param(None, r"log_metric\('loss'\) got NoneType", id="none"),
    pytest.param(np.ones(3), r"shape \(3,\).*Reduce it", id="array"),
    pytest.param([1.0], r"got list", id="list"),
    pytest.param(1 + 2j, r"got complex", id="complex"),
    pytest.param(10**400, r"too large", id="huge-int"),
])
def test_bad_metric_values_raise_naming_metric_and_value(run_factory, value, message):
    run = run_factory()
    run.log_metric("loss", 1.0, step=0)
    with pytest.raises(InvalidValueError, match=message):
        run.log_metric("loss", value, step=1)
    run.end()
    assert labbook.get_run(run.uuid).metric("loss").values.tolist() == [1.0]  # nothing lost


def test_log_metrics_is_all_or_nothing(run_factory):
    run = run_factory()
    with pytest.raises(InvalidValueError, match="'bad'"):
        run.log_metrics(step=1, good=1.0, bad="x")
    run.end()
    assert labbook.get_run(run.uuid).metric_names() == []


def test_metrics_without_step_continue_the_series(run_factory):
    run = run_factory()
    run.log_metric("m", 1.0)
    run.log_metric("m", 2.0)
    run.log_metric("m", 3.0, step=10)
    run.log_metric("m", 4.0)
    run.end()
    assert labbook.get_run(run.uuid).metric("m").steps.tolist() == [0, 1, 10, 11]


@pytest.mark.parametrize("name", [
    pytest.param("train/loss", id="slash"),
    pytest.param("val acc", id="space"),
    pytest.param("..", id="dotdot"),
    pytest.param("../../escape", id="traversal"),
    pytest.param(".hidden", id="leading-dot"),
    pytest.param("ünïcødé 损失", id="unicode"),
    pytest.param("a" * 1000, id="long"),
    pytest.param("top-1 (%)", id="symbols"),
])
def test_metric_names_keep_their_exact_text_and_stay_inside(run_factory, name):
    run = run_factory()
    run.log_metric(name, 1.5, step=1)
    run.end()
    record = labbook.get_run(run.uuid)
    assert record.metric_names() == [name]
    assert record.metric(name).values.tolist() == [1.5]
    run_dir = Path(run.path).resolve()
    for path in run_dir.rglob("*"):
        assert run_dir in path.resolve().parents


@pytest.mark.parametrize("name, message", [
    pytest.param("a\x00b", "NUL", id="nul"),
    pytest.param("x" * 10_000, "10000 characters", id="10k-chars"),
    pytest.param("", "must not be empty", id="empty"),
    pytest.param(3, "must be a str", id="not-str"),
])
def test_unusable_names_are_refused(run_factory, name, message):
    run = run_factory()
    with pytest.raises(InvalidNameError, match=message):
        run.log_metric(name, 1.0)
    with pytest.raises(InvalidNameError, match=message):
        run.log_text(name, "x")


@pytest.mark.parametrize("rel_path", ["../outside", "/etc/passwd", "a/../../b", "x\x00y"])
def test_paths_cannot_escape_the_run_folder(run_factory, rel_path):
    from labbook.errors import PathEscapeError

    run = run_factory()
    with pytest.raises(PathEscapeError, match="rel_path"):
        run.get_outputs_path(rel_path)
    with pytest.raises(PathEscapeError, match="rel_path"):
        run.get_artifacts_path(rel_path)


def test_symlink_out_of_the_run_folder_is_refused(run_factory, tmp_path):
    from labbook.errors import PathEscapeError

    run = run_factory()
    (Path(run.path) / "outputs" / "link").symlink_to(tmp_path)
    with pytest.raises(PathEscapeError, match="symbolic link"):
        run.get_outputs_path("link/file.txt")


def test_wrong_argument_types(run_factory):
    run = run_factory()
    with pytest.raises(InvalidValueError, match="step"):
        run.log_metric("m", 1.0, step="one")
    with pytest.raises(InvalidValueError, match=r"log_text\('t'\): text must be a str"):
        run.log_text("t", 5)
    with pytest.raises(InvalidValueError, match="timestamp"):
        run.log_metric("m", 1.0, timestamp=object())
    with pytest.raises(RunStateError, match="both"):
        run.log_text("t", "a", value="b")


def test_timestamps_given_by_the_user_are_kept(run_factory):
    from datetime import datetime, timezone

    run = run_factory()
    moment = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)
    run.log_metric("m", 1.0, step=1, timestamp=moment)
    run.log_text("t", "x", step=1, timestamp="2026-01-02T03:04:05.123456Z")
    run.end()
    record = labbook.get_run(run.uuid)
    assert record.events("metric", "m")[0].timestamp == moment
    assert record.events("text", "t")[0].timestamp == moment


def test_context_manager_marks_failure_with_traceback(home):
    with pytest.raises(ZeroDivisionError):
        with Run(project="p", install_handlers=False, track_env=False) as run:
            run.log_metric("m", 1.0)
            1 / 0
    record = labbook.get_run(run.uuid)
    assert record.status == "failed"
    last = record.status_conditions[-1]
    assert last["reason"] == "ZeroDivisionError" and "1 / 0" in last["message"]
    assert record.finished_at is not None and record.duration >= 0


def test_second_init_ends_the_first(home):
    first = tracking.init(project="p")
    tracking.log_metric("m", 1.0)
    second = tracking.init(project="p")
    assert tracking.get_run() is second
    assert labbook.get_run(first.uuid).status == "succeeded"
    tracking.end()
    assert tracking.get_run() is None
    with pytest.raises(RunStateError, match="has ended"):
        first.log_metric("m", 2.0)


def test_end_restores_excepthook_and_is_idempotent(home):
    before = sys.excepthook
    run = tracking.init(project="p")
    assert sys.excepthook != before
    tracking.end()
    run.end()
    assert sys.excepthook == before


def test_resume_appends_to_the_same_run(home):
    first = Run(project="p", install_handlers=False)
    first.log_metric("loss", 1.0, step=1)
    first.log_inputs(lr=0.1)
    first.end()
    again = tracking.init(run_uuid=first.uuid)
    assert again.path == first.path and again.project == "p"
    tracking.log_metric("loss", 0.5, step=2)
    tracking.end()
    record = labbook.get_run(first.uuid)
    assert record.metric("loss").values.tolist() == [1.0, 0.5]
    assert record.inputs == {"lr": 0.1}
    assert [c["status"] for c in record.status_conditions] == [
        "running", "succeeded", "resuming", "succeeded"]


def test_is_new_on_an_existing_run_is_refused(run_factory):
    run = run_factory()
    with pytest.raises(RunStateError, match="already exists"):
        Run(project="test", run_uuid=run.uuid, is_new=True, install_handlers=False)


def test_get_or_create_run(home):
    assert tracking.get_or_create_run() is tracking.get_run()
    run = tracking.get_run()
    assert tracking.get_or_create_run() is run
    other = Run(project="x", install_handlers=False)
    assert tracking.get_or_create_run(other) is other
    other.end()


@pytest.mark.parametrize("variable", ["LABBOOK_NO_OP", "POLYAXON_NO_OP"])
def test_no_op_mode_writes_nothing(home, monkeypatch, variable):
    monkeypatch.setenv(variable, "1")
    run = tracking.init(project="p")
    tracking.log_metric("m", 1.0)
    tracking.log_metrics(step=1, m=1.0, n=2.0)  # the module function hands its dict to _log_metrics
    tracking.log_metrics(2, None, m=1.0)
    tracking.log_inputs(a=1)
    assert tracking.get_artifacts_path() is None
    tracking.end()
    run.end()
    with Run(project="p") as direct:
        direct.log_metric("m", 1.0)
    assert not home.exists()


def test_unwritable_home_gets_a_clear_error(monkeypatch, tmp_path):
    from labbook.errors import ConfigError

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("LABBOOK_HOME", str(blocker / "home"))
    with pytest.raises(ConfigError, match="writable folder"):
        Run(project="p", install_handlers=False)


def test_bad_project_and_uuid(home):
    from labbook.errors import ConfigError

    with pytest.raises(ConfigError, match="Project name '../x'"):
        Run(project="../x", install_handlers=False)
    with pytest.raises(ConfigError, match="not a UUID"):
        Run(project="p", run_uuid="nope", install_handlers=False)


def test_status_values(run_factory):
    run = run_factory()
    run.log_status("warning", reason="r", message="m")
    with pytest.raises(RunStateError, match="Unknown status 'bogus'"):
        run.log_status("bogus")
    run.log_stopped()
    record = labbook.get_run(run.uuid)
    assert record.status == "stopped"
    assert [c["status"] for c in record.status_conditions][-2:] == ["warning", "stopped"]


def test_update_and_polyaxon_compat_calls(run_factory):
    run = run_factory()
    run.update({"name": "n", "tags": ["t"], "inputs": {"a": 1}})
    run.set_run_event_logger()
    run.set_run_resource_logger()
    run.sync_events_summaries()
    assert run.get_log_level() == "INFO"
    with pytest.raises(RunStateError, match="cannot change 'status'"):
        run.update({"status": "x"})
    run.end()
    record = labbook.get_run(run.uuid)
    assert (record.name, record.tags, record.inputs) == ("n", ["t"], {"a": 1})


def test_the_buffer_is_bounded_and_drops_nothing(home, monkeypatch):
    monkeypatch.setenv("LABBOOK_MAX_PENDING", "1000")
    monkeypatch.setenv("LABBOOK_FLUSH_INTERVAL", "60")  # only the bound makes the writer work
    run = Run(project="p", install_handlers=False, track_env=False, track_code=False)
    high = 0
    for i in range(20_000):
        run.log_metric("m", float(i), step=i)
        high = max(high, len(run._writer.metrics))
    run.end()
    assert high <= 1000
    values = labbook.get_run(run.uuid).metric("m").values
    assert np.array_equal(values, np.arange(20_000, dtype=float))


def test_metric_series_to_pandas(run_factory):
    run = run_factory()
    for step in range(3):
        run.log_metric("m", step / 2, step=step)
    run.end()
    frame = labbook.get_run(run.uuid).metric("m").to_pandas()
    assert list(frame.columns) == ["step", "value", "timestamp"]
    assert frame["value"].tolist() == [0.0, 0.5, 1.0]
    assert str(frame["timestamp"].dt.tz) == "UTC"


def test_an_object_store_url_as_run_root_is_refused_with_the_fix(home, monkeypatch):
    from labbook.errors import ConfigError

    monkeypatch.setenv("LABBOOK_ARTIFACTS_ROOT", "s3://bucket/runs")
    with pytest.raises(ConfigError, match="LABBOOK_ARTIFACT_STORE"):
        Run(project="p", install_handlers=False)


def test_log_metrics_stores_ints_bools_and_fractions_as_floats(run_factory):
    """The common call's check is one sum() in C: ints, bools and fractions pass it, queued as
    they are, and must still be written, and summarised, as float(value) (as metric_value)."""
    import json
    from fractions import Fraction

    run = run_factory()
    run.log_metrics(step=0, a=1.5, b=2.0)  # names checked once; the next calls take the sum() path
    run.log_metrics(step=1, a=3, b=True)
    run.log_metrics(step=2, a=Fraction(1, 4), b=-(2**60))
    run.flush()
    record = labbook.get_run(run.uuid)
    assert record.metric("a").values.tolist() == [1.5, 3.0, 0.25]
    assert record.metric("b").values.tolist() == [2.0, 1.0, float(-(2**60))]
    summary = json.loads((run.path / "summaries" / f"{run.writer_id}.json").read_text())["metrics"]
    assert summary["a"]["min"] == 0.25 and type(summary["a"]["max"]) is float and summary["a"]["max"] == 3.0
    assert type(summary["b"]["min"]) is float and summary["b"]["min"] == float(-(2**60))


def test_log_metrics_too_large_an_int_is_refused_at_the_call(run_factory):
    run = run_factory()
    run.log_metrics(step=0, a=1.0, b=2.0)
    with pytest.raises(InvalidValueError, match="'b'.*too large"):
        run.log_metrics(step=1, a=1.0, b=10**400)
    run.flush()
    assert labbook.get_run(run.uuid).metric("a").values.tolist() == [1.0]


def test_a_first_log_metrics_batch_counts_points_not_calls(run_factory):
    """Until a drain has seen a row, the batch a logging call writes is sized by the row's
    width: a first batch of 10-metric rows is no larger than the later ones (no 8192 rows)."""
    from labbook.writer.writer import DRAIN_BATCH, RECORD_WIDTH

    run = run_factory()
    writer = run._writer
    run.log_metrics(step=0, **{f"m{i}": 0.5 for i in range(10)})
    assert writer.drain_mark - len(writer.metrics) <= DRAIN_BATCH // 4 * RECORD_WIDTH


def test_module_log_metrics_takes_step_and_timestamp_by_position_or_keyword(home):
    """tracking.log_metrics takes ``*args, **metrics`` and pops step and timestamp from the
    dict (no keyword compared with named parameters); by position it calls Run.log_metrics."""
    run = tracking.init(project="p", install_handlers=False, track_code=False, track_env=False)
    tracking.log_metrics(step=1, loss=0.5, _args=1.0)
    tracking.log_metrics(2, loss=0.4)
    tracking.log_metrics(3, "2024-01-01T00:00:00Z", loss=0.3)
    tracking.log_metrics(loss=0.2, timestamp="2024-01-02T00:00:00Z")
    with pytest.raises(TypeError, match="multiple values for argument 'step'"):
        tracking.log_metrics(5, step=5, loss=0.1)
    assert str(inspect.signature(tracking.log_metrics)) == "(step: 'int | None' = None, timestamp: 'Any' = None, **metrics: 'Any') -> 'None'"
    tracking.end()
    record = labbook.get_run(run.uuid)
    assert record.metric("loss").steps.tolist() == [1, 2, 3, 4]
    assert record.metric("_args").values.tolist() == [1.0]
