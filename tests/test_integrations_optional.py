"""The frameworks stay optional: importing labbook, its tracking module or the integrations and
contrib packages loads none of them; a missing one is named with the extra that installs it."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import PYTHON, python_env

# Importing labbook loads none of these frameworks: tests/test_import_cost.py checks it.


def test_a_missing_framework_names_the_extra(home):
    # A child process that cannot import keras: the integration's import says what to install.
    code = ("import sys; sys.modules['keras'] = None\n"
            "try:\n    import labbook.integrations.keras\n"
            "except Exception as error:\n    print(type(error).__name__, error)\n")
    out = subprocess.run([PYTHON, "-c", code], env=python_env(home), capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.startswith("MissingDependencyError") and "pip install 'labbook[keras]'" in out


SNIPPETS = {  # section of docs/integrations.md -> the project its snippet logs to
    "Keras": "keras-demo",
    "PyTorch Lightning": "lightning-demo",
    "Hugging Face Transformers": "default",
    "PyTorch Ignite": "ignite-demo",
}


@pytest.mark.timeout(400)
def test_the_docs_snippets_run(home, tmp_path):
    import re
    from pathlib import Path

    import labbook
    from tests.conftest import require

    text = (Path(__file__).resolve().parents[1] / "docs" / "integrations.md").read_text()
    sections = {m.group(1): m.group(2) for m in re.finditer(r"^## (.+?)\n(.*?)(?=^## |\Z)", text, re.S | re.M)}
    codes = [re.search(r"```python\n(.*?)```", sections[name], re.S).group(1) for name in SNIPPETS]
    # one process for all four (the frameworks load once); each snippet's run is ended after it
    program = "".join(f"{code}\nfrom labbook import tracking as _t\n_t.end()\n" for code in codes)
    script = tmp_path / "snippets.py"
    script.write_text(program)
    done = subprocess.run([PYTHON, str(script)], env=python_env(home, KERAS_BACKEND="torch"),
                          capture_output=True, text=True, timeout=380, cwd=tmp_path)
    require("No module named" not in done.stderr, f"a framework is missing: {done.stderr[-300:]}")
    assert done.returncode == 0, done.stderr[-3000:]
    runs = {row.project: row.load() for row in labbook.search_runs()}
    assert sorted(runs) == sorted(SNIPPETS.values())
    assert all(record.status == "succeeded" for record in runs.values())
    assert runs["keras-demo"].metric("val_loss").steps.tolist() == [0, 1, 2]
    assert runs["lightning-demo"].inputs["lr"] == 0.1
    assert runs["default"].metric("loss").steps.tolist() == list(range(1, 9))
    assert runs["ignite-demo"].metric("validation/accuracy").steps.tolist() == [1, 2, 3]
    for project, record in runs.items():
        assert labbook.list_artifacts(project, kind="model", producer=record.uuid), project
