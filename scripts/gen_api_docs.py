"""Write docs/api.md from the code: every public signature and docstring, so the reference cannot
drift. `python scripts/gen_api_docs.py --check` fails when docs/api.md is out of date (a test runs it)."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import labbook  # noqa: E402
from labbook import tracking  # noqa: E402
from labbook.tracking.run import Run  # noqa: E402

HEADER = """# API reference

Generated from the code by `python scripts/gen_api_docs.py`; do not edit by hand.

`from labbook import tracking` gives Polyaxon's module-level API: each function below calls the
same method of the active run (started by `tracking.init()`), with the same signature. The same
methods are on `labbook.tracking.Run`, usable directly and as a context manager. Reading back is
`labbook.get_run`, `labbook.search_runs` and the functions after them.

`tracking.TRACKING_RUN` is the active run (None without one), as in Polyaxon; it is read when
accessed, so it is always current after `init()` and `end()`. A `Run` also has the properties
`uuid` (Polyaxon's `run_uuid`), `owner`, `project`, `name`, `status`, `path`, `inputs`,
`outputs` and `tags`. `project="owner.project"` (or `"owner/project"`) is split as Polyaxon
splits it: owner `owner`, project `project`, so a project name cannot contain `.` or `/`.
"""


def _doc(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip()


def _entry(title: str, obj, signature: str) -> str:
    doc = _doc(obj)
    return f"### `{title}{signature}`\n\n{doc}\n" if doc else f"### `{title}{signature}`\n"


def render() -> str:
    parts = [HEADER, "## Module functions\n"]
    for name in ("init", "get_or_create_run", "end", "get_run", "Experiment"):
        fn = getattr(tracking, name)
        parts.append(_entry(f"tracking.{name}", fn, str(inspect.signature(fn))))
    parts.append("## Run methods (also module functions)\n")
    for name in sorted(tracking.FORWARDED):
        fn = getattr(tracking, name)
        parts.append(_entry(f"{name}", getattr(Run, name), str(inspect.signature(fn))))
    parts.append("## Reading back\n")
    for name in labbook.__all__:
        obj = getattr(labbook, name)
        if name.startswith("_") or inspect.ismodule(obj) or not callable(obj):
            continue
        try:
            signature = str(inspect.signature(obj))
        except (TypeError, ValueError):
            signature = ""
        parts.append(_entry(f"labbook.{name}", obj, signature))
    return "\n".join(parts)


def main() -> int:
    target = ROOT / "docs" / "api.md"
    text = render()
    if "--check" in sys.argv:
        if not target.exists() or target.read_text() != text:
            print("docs/api.md is out of date: run python scripts/gen_api_docs.py")
            return 1
        return 0
    target.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
