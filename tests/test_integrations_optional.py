"""The frameworks stay optional: importing labbook, its tracking module or the integrations and
contrib packages loads none of them; a missing one is named with the extra that installs it."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import PYTHON, python_env
from tests.test_import_cost import loaded_modules

FRAMEWORKS = ["torch", "keras", "lightning", "pytorch_lightning", "transformers", "ignite", "fastai"]


@pytest.mark.parametrize("statement", [
    pytest.param("import labbook", id="labbook"),
    pytest.param("from labbook import tracking", id="tracking"),
    pytest.param("import labbook.integrations, labbook.tracking.contrib", id="packages"),
])
def test_importing_labbook_loads_no_framework(home, statement):
    loaded = loaded_modules(home, statement)
    assert [name for name in FRAMEWORKS if name in loaded] == []
    if "integrations" not in statement:
        assert sorted(name for name in loaded if name.startswith("labbook.integrations")) == []


def test_a_missing_framework_names_the_extra(home):
    # A child process that cannot import keras: the integration's import says what to install.
    code = ("import sys; sys.modules['keras'] = None\n"
            "try:\n    import labbook.integrations.keras\n"
            "except Exception as error:\n    print(type(error).__name__, error)\n")
    out = subprocess.run([PYTHON, "-c", code], env=python_env(home), capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.startswith("MissingDependencyError") and "pip install 'labbook[keras]'" in out
