"""``RunSurface`` and ``RunParts``: what a ``Run``'s methods and its capture threads build on.

``Run`` (``labbook.tracking.run``) inherits its rich-event methods from ``MediaMethods``
(``labbook.media.methods``) and its artifact methods from ``ArtifactMethods``
(``labbook.artifacts.methods``). Those mixins sit below ``tracking`` in the import graph, so they
cannot name ``Run``; they name this base instead, which declares, typed, every attribute and
method of ``Run`` they use. ``Run`` defines them; nothing here has a body that runs.

The declared private names (``_writer``, ``_folder``, ``_record`` ...) are ``Run``'s own, used by
``Run``'s own methods through ``self``: no other package reaches into a run for them. The
capture threads (``labbook.capture``) get a ``RunParts`` instead: the writer, the folder and the
settings they need, handed over by ``Run``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from labbook.config import Settings
from labbook.store.layout import RunFolder
from labbook.writer.writer import RunWriter


class ErrorList(Protocol):
    """Something that collects error messages to report at ``end()`` (the run's indexer)."""

    errors: list[str]


class RunSurface:
    """What ``Run``'s mixins may use of the run (see the module docstring)."""

    uuid: str
    project: str
    rank: int
    writer_id: str
    _writer: RunWriter
    _folder: RunFolder
    _settings: Settings
    _record: dict[str, Any]
    _lock: threading.RLock
    _closers: list[Callable[[], None]]
    _indexer: ErrorList | None  # None in a forked child (labbook.tracking.forks)
    # artifact state of this process: versions used as inputs, whether tensorboard is logged
    _artifact_state: dict[str, Any]

    if TYPE_CHECKING:  # defined by Run

        @property
        def path(self) -> Path: ...

        @property
        def name(self) -> str | None: ...

        def _check_open(self, what: str) -> None: ...

        def _emit(self, kind: str, name: str, value: Any, step: int | None = None,
                  timestamp: Any = None) -> None: ...

        def log_meta(self, reset: bool = False, async_req: bool = True, **meta: Any) -> None: ...

        def log_inputs(self, reset: bool = False, async_req: bool = True, **inputs: Any) -> None: ...

        def log_outputs(self, reset: bool = False, async_req: bool = True, **outputs: Any) -> None: ...

        def get_artifacts_path(self, rel_path: str | None = None, ensure_path: bool = False,
                               is_dir: bool = False, use_store_path: bool = False) -> str: ...

        def get_outputs_path(self, rel_path: str | None = None, ensure_path: bool = True,
                             is_dir: bool = False, use_store_path: bool = False) -> str: ...


@dataclass(frozen=True)
class RunParts:
    """The parts of an open run that its capture threads work with (``labbook.capture``): ``Run``
    hands them these, never itself. ``record`` and ``closers`` are the run's own (shared, not
    copied): ``record`` is its view of run.json, ``closers`` run in reverse order at ``end()``."""

    uuid: str
    rank: int
    writer_id: str
    folder: RunFolder
    writer: RunWriter
    settings: Settings
    record: dict[str, Any]
    closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.folder.path
