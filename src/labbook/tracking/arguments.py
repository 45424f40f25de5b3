"""Checking the plain arguments of ``Run(...)`` / ``tracking.init()`` and of the run's setters.

A wrong argument fails at the call with ``InvalidTypeError`` (also a ``TypeError``) or
``InvalidValueError`` (also a ``ValueError``), naming the argument, the value and the fix, before
anything is written.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from labbook._values import check_flag  # noqa: F401 - used here and re-exported
from labbook.errors import InvalidTypeError, InvalidValueError
from labbook.store.names import check_name

MAX_RUN_NAME = 128  # characters, as Polyaxon: shown in tables, and may become a path component ({{run.name}})

# init() argument -> (accepted types, what to pass); None is accepted for every one of them
_PATH = (str, os.PathLike)
_INIT_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "owner": ((str,), "a str"),
    "project": ((str,), "a project name (str)"),
    "run_uuid": ((str, uuid.UUID), "a run id (str or uuid.UUID)"),
    "artifacts_path": (_PATH, "a folder path (str or Path)"),
    "home": (_PATH, "a folder path (str or Path)"),
    "description": ((str,), "a str"),
}
_INIT_FLAGS = ("track_code", "track_env", "track_logs", "refresh_data", "collect_artifacts",
               "collect_resources", "is_offline", "is_new", "no_op", "auto_create", "install_handlers",
               "attach", "sync_tensorboard", "never_crash")


def _shown(value: Any) -> str:
    return f"{type(value).__name__} ({value!r:.60})"


def check_init(arguments: Mapping[str, Any]) -> None:
    """Check ``Run.__init__``'s arguments by name; raise before the run folder is touched."""
    for argument, (types, wanted) in _INIT_TYPES.items():
        value = arguments.get(argument)
        if value is not None and not isinstance(value, types):
            raise InvalidTypeError(f"init({argument}=...) got {_shown(value)}; pass {wanted} or None.")
    for argument in _INIT_FLAGS:
        check_flag("init", argument, arguments.get(argument))
    if arguments.get("name") is not None:
        run_name("init", arguments["name"])
    if arguments.get("tags") is not None:
        tag_list("init", arguments["tags"])
    settings = arguments.get("settings")
    if settings is not None:
        from labbook.config import Settings

        if not isinstance(settings, Settings):
            raise InvalidTypeError(
                f"init(settings=...) got {_shown(settings)}; pass a labbook.config.Settings "
                "(Settings.load(...)) or None."
            )


def check_text(function: str, argument: str, value: Any) -> str | None:
    """A str argument (or None)."""
    if value is not None and not isinstance(value, str):
        raise InvalidTypeError(f"{function}({argument}=...) got {_shown(value)}; pass a str or None.")
    return value


def run_name(function: str, name: Any) -> str | None:
    """A run name: a str of at most ``MAX_RUN_NAME`` characters, without control characters."""
    check_text(function, "name", name)
    if name is None:
        return None
    if len(name) > MAX_RUN_NAME:
        raise InvalidValueError(
            f"{function}(name=...) got a name of {len(name)} characters starting {name[:40]!r}; "
            f"run names have at most {MAX_RUN_NAME}. Use a shorter name (put details in description)."
        )
    bad = next((c for c in name if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise InvalidValueError(
            f"{function}(name={name!r:.80}) contains the control character {bad!r}. Remove it."
        )
    return name


def tag_list(function: str, tags: Any) -> list[str]:
    """Tags as a list without duplicates: one str, or an iterable of str."""
    if isinstance(tags, str):
        items = [tags]
    elif isinstance(tags, Iterable) and not isinstance(tags, (bytes, bytearray, Mapping)):
        items = list(tags)
    else:
        raise InvalidTypeError(
            f"{function}(tags=...) got {_shown(tags)}; pass a tag (str) or a list of tags."
        )
    for tag in items:
        if not isinstance(tag, str):
            raise InvalidTypeError(
                f"{function}(tags=...) holds {_shown(tag)}; every tag must be a str."
            )
        check_name(tag, "tag")
    return list(dict.fromkeys(items))
