"""`import labbook` and `from labbook import tracking` stay cheap: no heavy library at import."""

from __future__ import annotations

import subprocess

import orjson
import pytest

from tests.conftest import PYTHON, python_env

HEAVY = ["numpy", "pandas", "pyarrow", "sqlalchemy", "alembic", "PIL", "matplotlib", "plotly",
         "bokeh", "altair", "sklearn", "torch", "imageio", "psutil", "fsspec", "rich", "click"]


@pytest.mark.parametrize("statement", [
    pytest.param("import labbook", id="labbook"),
    pytest.param("from labbook import tracking", id="tracking"),
])
def test_no_heavy_library_is_imported(home, statement):
    loaded = loaded_modules(home, statement)
    assert [name for name in HEAVY if name in loaded] == []


def loaded_modules(home, statement: str) -> set[str]:
    """Every module in sys.modules after running ``statement`` in a fresh interpreter."""
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([PYTHON, "-c", code], env=python_env(home), capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return set(orjson.loads(out))


# The framework integrations' and importers' libraries: optional extras, imported only by their
# own modules.
FRAMEWORKS = ["xgboost", "lightgbm", "sklearn", "langchain_core", "torch", "keras", "lightning",
              "pytorch_lightning", "transformers", "ignite", "fastai", "tensorboard", "mlflow", "wandb"]


@pytest.mark.parametrize("statement", [
    pytest.param("import labbook", id="labbook"),
    pytest.param("from labbook import tracking", id="tracking"),
    pytest.param("import labbook.integrations, labbook.tracking.contrib", id="packages"),
])
def test_framework_extras_stay_optional(home, statement):
    loaded = loaded_modules(home, statement)
    assert [name for name in FRAMEWORKS if name in loaded] == []
    if "integrations" not in statement:
        assert sorted(name for name in loaded if name.startswith("labbook.integrations")) == []


def test_import_touches_no_file_or_environment(home):
    code = "from labbook import tracking; import os; print(os.path.exists(os.environ['LABBOOK_HOME']))"
    out = subprocess.run([PYTHON, "-c", code], env=python_env(home), capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.strip() == "False"


def test_a_logging_process_loads_no_sql_stack_or_numpy(home):
    """A run that logs metrics and ends, in a new home, keeps its catalog entry current with the
    standard library: no SQLAlchemy, Alembic or numpy is loaded in the training process."""
    statement = ("from labbook import tracking; run = tracking.init(project='p', track_env=False, "
                 "track_code=False, track_logs=False, collect_resources=False); "
                 "[tracking.log_metrics(step=i, a=0.5, b=1) for i in range(100)]; "
                 "tracking.log_metric('c', 2.0); tracking.end()")
    loaded = loaded_modules(home, statement)
    assert [name for name in ("sqlalchemy", "alembic", "numpy") if name in loaded] == []
    import labbook

    assert [row.summaries["a"]["count"] for row in labbook.search_runs("p", home=home)] == [100]
