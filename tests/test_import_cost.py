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
