"""Every error labbook raises on purpose is a ``LabbookError``; messages name things that exist."""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import pytest

import labbook
from labbook import errors

SOURCE = Path(labbook.__file__).parent

# (file under src/labbook, exception): a stdlib exception raised on purpose, and why that is right.
ALLOWED = {
    # Python protocols: attribute lookup, iteration and programmer errors, not user errors.
    ("*", "AttributeError"): "__getattr__ must raise AttributeError",
    ("*", "AssertionError"): "a programmer error (an unknown internal operation)",
    ("*", "SystemExit"): "the CLI's exit code",
    # Raised and caught inside one function, never seen by a caller.
    ("writer/writer.py", "ValueError"): "a point the binary format cannot hold: caught and counted as dropped",
    ("store/format.py", "ValueError"): "a line that is not an event record: caught at once and skipped",
    ("server/cursor.py", "ValueError"): "caught at once and answered as a 400 ApiError",
    ("media/assets.py", "FileExistsError"): "the 10,000th clash of a file name; an OSError the writer counts",
    ("capture/logs.py", "OSError"): "log capture that cannot start: caught by the capture session and reported",
    ("writer/writer.py", "OSError"): "a symlinked event folder, turned into a WriteError by the caller",
}
STDLIB = {name for name, value in vars(builtins).items()
          if isinstance(value, type) and issubclass(value, BaseException)}


def _raised_names(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(target, ast.Name):
                yield node.lineno, target.id


def stdlib_raises(root: Path) -> list[str]:
    """``file:line Exception`` for each ``raise`` of a stdlib exception not in ``ALLOWED``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        for line, name in _raised_names(ast.parse(path.read_text(), str(path))):
            if name in STDLIB and (relative, name) not in ALLOWED and ("*", name) not in ALLOWED:
                found.append(f"{relative}:{line} {name}")
    return found


def test_every_raise_names_a_labbook_error():
    assert stdlib_raises(SOURCE) == []


def test_the_scan_finds_a_bare_stdlib_raise(tmp_path):
    (tmp_path / "bad.py").write_text("def f(x):\n    raise ValueError(x)\n")
    (tmp_path / "fine.py").write_text("from labbook.errors import ConfigError\nraise ConfigError('x')\n")
    assert stdlib_raises(tmp_path) == ["bad.py:2 ValueError"]


def test_every_error_class_is_in_the_tree_and_its_docstring():
    classes = [value for value in vars(errors).values()
               if isinstance(value, type) and issubclass(value, BaseException)]
    assert {cls.__name__ for cls in classes} >= {"ArtifactIntegrityError", "EventFileError", "NotAvailableError"}
    for cls in classes:
        assert issubclass(cls, errors.LabbookError), cls
        assert cls.__name__ in errors.__doc__, f"{cls.__name__} is missing from errors.py's tree"
    defined_elsewhere = [
        f"{path.relative_to(SOURCE)}: {node.name}"
        for path in SOURCE.rglob("*.py") if path.name != "errors.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and node.name.endswith("Error")
        and any(isinstance(base, ast.Name) and base.id == "LabbookError" for base in node.bases)
    ]
    assert defined_elsewhere == []


def test_artifact_integrity_error_keeps_its_old_import_path():
    from labbook.artifacts.version import ArtifactIntegrityError

    assert ArtifactIntegrityError is errors.ArtifactIntegrityError


def test_a_damaged_event_header_is_a_labbook_error_and_still_a_value_error(tmp_path):
    from labbook.writer.format import read_header

    path = tmp_path / "x.metric"
    path.write_bytes(b'{"format": "other"}\n')
    with pytest.raises(errors.EventFileError, match="not a labbook event file") as caught:
        read_header(path)
    assert isinstance(caught.value, ValueError)
    path.write_bytes(b'{"format": "labbook.events"')
    with pytest.raises(errors.EventFileError, match="no complete header line"):
        read_header(path)


def test_a_missing_run_file_is_a_write_error(tmp_path):
    from labbook.store.runfile import update_run_file

    with pytest.raises(errors.WriteError, match="does not exist") as caught:
        update_run_file(tmp_path / "run.json", [("set", "name", "x")])
    assert isinstance(caught.value, FileNotFoundError) or caught.value.errno == 2


def test_messages_name_no_missing_command_or_function():
    """Pointers in the source (``labbook <command>``, ``labbook.x.y()``) name things that exist."""
    import re

    from labbook.cli.main import cli

    commands = set(cli.commands)
    wrong = []
    for path in SOURCE.rglob("*.py"):
        text = path.read_text()
        for command in re.findall(r"['`]labbook ([a-z][a-z-]+)", text):
            if command not in commands:
                wrong.append(f"{path.relative_to(SOURCE)}: labbook {command}")
        for dotted in re.findall(r"\b(labbook(?:\.[a-z_]+)+)\(\)", text):
            module, _, attribute = dotted.rpartition(".")
            try:
                target = __import__(module, fromlist=[attribute])
            except ImportError:
                wrong.append(f"{path.relative_to(SOURCE)}: {dotted}()")
                continue
            if not hasattr(target, attribute):
                wrong.append(f"{path.relative_to(SOURCE)}: {dotted}()")
    assert wrong == []
