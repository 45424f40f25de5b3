"""Every Python snippet of docs/integrations-boosting.md runs as it is, in a fresh interpreter,
and leaves a succeeded run behind."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

import labbook
from tests.conftest import PYTHON, python_env, require

PAGE = Path(__file__).resolve().parents[1] / "docs" / "integrations-boosting.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
FRAMEWORKS = ("xgboost", "lightgbm", "sklearn", "langchain_core")


def test_the_page_has_a_snippet_per_framework():
    for module in FRAMEWORKS:
        assert any(re.search(rf"^(from|import) {module}\b", code, re.M) for code in SNIPPETS), module


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_snippet_runs(home, tmp_path, index):
    code = SNIPPETS[index]
    for module in FRAMEWORKS:
        if re.search(rf"^(from|import) {module}\b", code, re.M):
            require(importlib.util.find_spec(module) is not None, f"{module} is not installed")
    result = subprocess.run([PYTHON, "-c", code], env=python_env(home), cwd=tmp_path, capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    uuids = [path.parent.name for path in (Path(home) / "artifacts").glob("*/*/run.json")]
    assert len(uuids) == 1, "the snippet should log exactly one run"
    assert labbook.get_run(uuids[0]).status == "succeeded"
