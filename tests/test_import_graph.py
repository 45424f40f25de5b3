"""The import rule: labbook's parts import each other only along the graph in docs/architecture.md.

Every ``import`` and ``from ... import`` in ``src/labbook`` is read from the syntax tree, at any
depth (inside functions and ``if TYPE_CHECKING:`` blocks too: an import placed there to dodge a
cycle is still the dependency), and each edge between two parts must be one the graph allows.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "labbook"
DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"

# A part is a package, or a few top-level modules that play one role.
PARTS = {
    "labbook.errors": "ground", "labbook.config": "ground", "labbook._values": "ground", "labbook._time": "ground",
    "labbook._optional": "ground", "labbook.gcfreeze": "ground",
    "labbook.runs": "read", "labbook.workspace": "read", "labbook.tokens": "read", "labbook.remote": "read",
    "labbook.demo": "demo",
    "labbook.tracking.contrib": "tracking.contrib",
}

# part -> the parts it may import (directly). The graph must stay acyclic (tested below).
ALLOWED: dict[str, set[str]] = {
    "ground": set(),
    "store": {"ground"},
    "writer": {"ground", "store"},
    "capture": {"ground", "store", "writer"},
    "media": {"ground", "store", "writer"},
    "catalog": {"ground", "store"},
    "sync": {"ground", "store", "catalog"},
    "artifacts": {"ground", "store", "writer", "capture", "catalog"},
    "tracking": {"ground", "store", "writer", "capture", "media", "catalog", "artifacts", "sync"},
    "read": {"ground", "store", "catalog", "artifacts", "media", "sync"},
    "integrations": {"ground", "store", "media", "tracking", "labbook"},
    "tracking.contrib": {"ground", "tracking", "integrations"},
    "importers": {"ground", "store", "writer", "media", "tracking", "read", "labbook"},
    "dashboard": set(),
    "server": {"ground", "store", "catalog", "sync", "read", "tracking", "dashboard", "labbook"},
    "demo": {"ground", "media", "tracking", "read", "labbook"},
    "labbook": {"ground", "read", "store", "tracking"},  # the package's lazy public names
    "cli": {"ground", "store", "writer", "capture", "media", "catalog", "sync", "artifacts", "tracking", "read",
            "integrations", "importers", "server", "dashboard", "demo", "labbook"},
}


def part_of(module: str) -> str:
    """The part ``labbook.x.y`` belongs to: the longest PARTS prefix, else its package."""
    for prefix in sorted(PARTS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return PARTS[prefix]
    pieces = module.split(".")
    return "labbook" if len(pieces) == 1 else pieces[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _exists(module: str) -> bool:
    relative = Path(*module.split("."))
    return (SRC.parent / relative).with_suffix(".py").is_file() or (SRC.parent / relative / "__init__.py").is_file()


def imports_of(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, imported labbook module) for every import in ``source``, at any depth.
    ``from labbook import x`` names module ``labbook.x`` when there is one, else the package."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:  # a submodule imported by name is the dependency, else the package
                name = f"{target}.{alias.name}"
                found.append((node.lineno, name if _exists(name) else target))
    return [(line, name) for line, name in found if name == "labbook" or name.startswith("labbook.")]


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """Each import in ``source`` (the text of ``module``) that the graph does not allow."""
    here = part_of(module)
    wrong = []
    for line, target in imports_of(source, module, is_package):
        there = part_of(target)
        if there != here and there not in ALLOWED[here]:
            wrong.append(f"{module}:{line} imports {target} ({here} -> {there} is not allowed)")
    return wrong


def _all_files() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_every_module_belongs_to_a_part_of_the_graph():
    assert sorted({part_of(module_name(p)) for p in _all_files()} - set(ALLOWED)) == []


def test_the_allowed_graph_has_no_cycle():
    done: list[str] = []
    remaining = {part: set(deps) for part, deps in ALLOWED.items()}
    while remaining:
        ready = sorted(part for part, deps in remaining.items() if deps <= set(done))
        assert ready, f"a cycle among {sorted(remaining)}"
        done += ready
        for part in ready:
            del remaining[part]


def test_every_import_follows_the_graph():
    wrong = []
    for path in _all_files():
        wrong += violations(path.read_text(), module_name(path), path.name == "__init__.py")
    assert wrong == []


@pytest.mark.parametrize("module, source", [
    pytest.param("labbook.media.images", "def f():\n    from labbook.tracking.run import Run\n", id="media-to-tracking-in-a-function"),
    pytest.param("labbook.catalog.indexer", "import labbook.artifacts.api\n", id="catalog-to-artifacts"),
    pytest.param("labbook.store.layout", "from labbook.writer import format as fmt\n", id="store-to-writer"),
    pytest.param("labbook.workspace", "if True:\n    from labbook.tracking.run import find_run_folder\n",
                 id="read-side-to-write-side"),
    pytest.param("labbook.store.events", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                         "    from labbook.catalog.catalog import Catalog\n", id="type-checking-only"),
    pytest.param("labbook.catalog.artifacts", "from ..artifacts import api\n", id="relative"),
])
def test_a_forbidden_import_is_caught(module, source):
    [found] = violations(source, module)
    assert "is not allowed" in found


def test_an_allowed_import_passes():
    assert violations("from labbook.store.layout import RunStore\nimport labbook.errors\n", "labbook.catalog.indexer") == []
    assert violations("from labbook import tokens\n", "labbook.server.data") == []


def test_the_documented_graph_is_the_tested_one():
    """docs/architecture.md lists each part with the parts it may import, one line each:
    ``- `store` → `ground` ``; the lines must say exactly what ALLOWED says."""
    documented = {}
    for match in re.finditer(r"^- `([\w.]+)` → (.*)$", DOC.read_text(), re.M):
        documented[match.group(1)] = set(re.findall(r"`([\w.]+)`", match.group(2)))
    assert documented == ALLOWED
