"""Several processes logging one key at once get distinct, gap-free version numbers."""

from __future__ import annotations

import subprocess
import textwrap

import labbook
from tests.conftest import PYTHON, python_env

CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from labbook.tracking.run import Run

    run = Run(project="p", install_handlers=False, track_code=False, track_env=False, track_logs=False,
              collect_resources=False)
    for i in range(6):
        path = Path(f"{sys.argv[1]}-{i}.txt")
        path.write_text(f"writer {sys.argv[1]} file {i}")
        run.log_artifact(str(path), name="shared", rel_path=str(i))
    run.end()
""")


def test_concurrent_writers_number_versions_without_collisions(home, tmp_path):
    env = python_env(home)
    children = [subprocess.Popen([PYTHON, "-c", CHILD, name], env=env, cwd=tmp_path) for name in ("a", "b", "c")]
    for child in children:
        assert child.wait(timeout=120) == 0
    versions = labbook.list_artifacts("p", key="shared", limit=None)
    assert sorted(v.version for v in versions) == list(range(1, 19))
    contents = {v.read_bytes() for v in versions}
    assert len(contents) == 18
