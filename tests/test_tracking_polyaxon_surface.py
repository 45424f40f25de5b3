"""The Run surface Polyaxon's integrations and examples rely on: run_uuid, owner, get_inputs,
get_outputs, update()'s return, tracking.TRACKING_RUN, the old client's Experiment; and a
missing framework naming its extra (tests/test_import_cost.py checks they load only on use)."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

import labbook
from labbook import tracking
from labbook.errors import ConfigError
from labbook.store.runfile import read_run_file
from labbook.tracking.run import NoOpRun
from tests.conftest import PYTHON, python_env


def test_run_uuid_is_polyaxons_name_for_uuid(run_factory):
    run = run_factory()
    assert run.run_uuid == run.uuid and len(run.run_uuid) == 32
    assert NoOpRun().run_uuid is None


@pytest.mark.parametrize("kwargs", [
    pytest.param({"project": "acme.churn"}, id="dot"),
    pytest.param({"project": "acme/churn"}, id="slash"),
    pytest.param({"owner": "acme", "project": "churn"}, id="owner-argument"),
])
def test_owner_project_is_split_as_polyaxon_does(run_factory, home, kwargs):
    run = run_factory(**kwargs)
    assert (run.owner, run.project) == ("acme", "churn")
    assert Path(run.path).parent.name == "churn"
    run.end()
    assert labbook.get_run(run.uuid).owner == "acme"
    assert read_run_file(Path(run.path) / "run.json")["owner"] == "acme"
    resumed = run_factory(run_uuid=run.uuid, project="churn")
    assert resumed.owner == "acme" and resumed.path == run.path


def test_owner_is_none_without_one_and_bad_forms_say_how_to_write_them(run_factory):
    run = run_factory(project="churn")
    assert run.owner is None and labbook.get_run(run.uuid).owner is None
    for kwargs in ({"project": "a.b.c"}, {"owner": "acme", "project": "x.y"}, {"project": "acme."}):
        with pytest.raises(ConfigError, match=r"Project name .*'owner\.project'"):
            run_factory(**kwargs)


def test_owner_from_the_configured_project(run_factory, monkeypatch):
    monkeypatch.setenv("LABBOOK_PROJECT", "team.vision")
    run = run_factory(project=None)
    assert (run.owner, run.project) == ("team", "vision")


def test_get_inputs_and_get_outputs_return_copies(run_factory):
    run = run_factory()
    run.log_inputs(lr=0.1, layers=[8, 8])
    run.log_outputs(accuracy=0.9)
    inputs = run.get_inputs()
    assert inputs == {"lr": 0.1, "layers": [8, 8]} and run.get_outputs() == {"accuracy": 0.9}
    inputs["layers"].append(16)
    assert run.get_inputs()["layers"] == [8, 8]


def test_update_returns_the_run_record(run_factory):
    run = run_factory(name="first")
    record = run.update({"description": "baseline", "inputs": {"lr": 0.1}, "tags": ["a"]})
    assert record["uuid"] == run.uuid and record["project"] == "test" and record["name"] == "first"
    assert record["description"] == "baseline" and record["inputs"] == {"lr": 0.1} and record["tags"] == ["a"]
    assert record["status"] == "running"
    record["inputs"]["lr"] = 5
    assert run.update()["inputs"] == {"lr": 0.1}  # a copy; update() alone only reads
    run.end()
    assert labbook.get_run(run.uuid).description == "baseline"


def test_tracking_run_is_the_active_run_through_init_and_end(home):
    assert tracking.TRACKING_RUN is None
    first = tracking.init(project="p", track_code=False, track_env=False, track_logs=False)
    assert tracking.TRACKING_RUN is first
    from labbook.tracking import TRACKING_RUN

    assert TRACKING_RUN is first
    assert tracking.update({"name": "n"})["name"] == "n"  # the module function returns it too
    assert tracking.get_inputs() == {} and tracking.get_outputs() == {}
    second = tracking.init(project="p", track_code=False, track_env=False, track_logs=False)
    assert tracking.TRACKING_RUN is second and first.status == "succeeded"
    tracking.end()
    assert tracking.TRACKING_RUN is None


SEED_EXPERIMENT = """
from labbook.tracking import Experiment

# Polyaxon experiment
experiment = Experiment()
# training code ...
# Metrics reporting
experiment.log_metrics(step=1000, loss=0.01, accuracy=0.97)
print(experiment.uuid)
"""


def test_seed_experiment_example_runs_with_only_the_import_changed(home, tmp_path):
    """seeds/002 "Disabling Polyaxon tracking without changing the code": the old client's
    ``Experiment()`` example; it ends with the script (succeeded)."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SEED_EXPERIMENT))
    out = subprocess.run([PYTHON, str(script)], env=python_env(home), capture_output=True, text=True,
                         check=True, timeout=120, cwd=tmp_path).stdout
    record = labbook.get_run(out.strip())
    assert record.status == "succeeded" and record.project == "default"
    for name, value in (("loss", 0.01), ("accuracy", 0.97)):
        series = record.metric(name)
        assert series.steps.tolist() == [1000] and series.values.tolist() == [value]


def test_seed_experiment_example_is_ignored_under_polyaxon_no_op(home, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SEED_EXPERIMENT))
    out = subprocess.run([PYTHON, str(script)], env=python_env(home, POLYAXON_NO_OP="true"), capture_output=True,
                         text=True, check=True, timeout=120, cwd=tmp_path).stdout
    assert out.strip() == "None"
    assert not (Path(home) / "artifacts").exists() or not any((Path(home) / "artifacts").iterdir())


def test_experiment_refuses_server_only_arguments(home):
    with pytest.raises(ConfigError, match=r"Experiment\(group_id=3\).*tags"):
        tracking.Experiment(group_id=3)
    assert tracking.TRACKING_RUN is None


@pytest.mark.parametrize("module,blocked,extra", [
    pytest.param("labbook.integrations.xgboost", "xgboost", "xgboost", id="xgboost"),
    pytest.param("labbook.tracking.contrib.lightgbm", "lightgbm", "lightgbm", id="lightgbm"),
    pytest.param("labbook.tracking.contrib.langchain", "langchain_core", "langchain", id="langchain"),
])
def test_a_missing_framework_names_its_extra(home, module, blocked, extra):
    code = (f"import sys; sys.modules[{blocked!r}] = None\n"
            f"from labbook.errors import MissingDependencyError\n"
            f"try:\n    import {module}\nexcept MissingDependencyError as error:\n    print(error)\n")
    out = subprocess.run([PYTHON, "-c", code], env=python_env(home), capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert f"pip install 'labbook[{extra}]'" in out


def test_log_classifier_without_sklearn_names_its_extra(home):
    code = ("import sys; sys.modules['sklearn'] = None; sys.modules['sklearn.base'] = None\n"
            "from labbook.errors import MissingDependencyError\n"
            "from labbook.tracking.contrib.scikit import log_classifier\n"
            "try:\n    log_classifier(object(), [], [])\nexcept MissingDependencyError as error:\n    print(error)\n")
    out = subprocess.run([PYTHON, "-c", code], env=python_env(home), capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert "pip install 'labbook[sklearn]'" in out
