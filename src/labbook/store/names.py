"""Turning user-chosen names into safe file names, reversibly.

A metric called ``train/loss`` or ``val acc`` keeps its exact text everywhere it is shown or
queried. On disk it becomes one path component that cannot escape its folder: every byte outside
``[A-Za-z0-9_.-]`` is percent-encoded, a leading dot is encoded so that ``.`` and ``..`` never
appear, and names too long for a file system are cut and suffixed with a hash of the full name.
The exact name is also kept inside the file's header, so even the cut form maps back.
"""

from __future__ import annotations

import functools
import hashlib
import re
import string
from urllib.parse import quote, unquote

from labbook.errors import ConfigError, InvalidNameError, PathEscapeError

MAX_NAME_LENGTH = 1024
NAME_MAX = 255  # bytes in one file name, on every file system labbook writes to
_MAX_COMPONENT = 180  # bytes; leaves room for a writer id and extension under the 255-byte limit
_SAFE = string.ascii_letters + string.digits + "_.-"
_HASHED_MARK = "~"
# An extension or content type used verbatim in a file name: "png", "tar.gz", "svg+xml".
_EXTENSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+-]*(\.[A-Za-z0-9][A-Za-z0-9_+-]*)*")
MAX_EXTENSION_LENGTH = 32
_SEPARATOR = re.compile(r"[/\\\x00]")


def check_name(name: object, what: str = "name") -> str:
    """Return ``name`` if it is a usable name, else raise ``InvalidNameError`` saying why."""
    if not isinstance(name, str):
        raise InvalidNameError(
            f"A {what} must be a str, got {type(name).__name__} ({name!r}). Pass a string."
        )
    if not name or not name.strip():
        raise InvalidNameError(f"A {what} must not be empty or blank (got {name!r}).")
    if "\x00" in name:
        raise InvalidNameError(f"The {what} {name!r} contains a NUL character. Remove it.")
    at = lone_surrogate(name)
    if at is not None:
        raise InvalidNameError(
            f"The {what} {name!r} holds a lone surrogate at index {at}, which UTF-8 cannot "
            "store (in file headers and on disk). Decode the name properly."
        )
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"The {what} starting {name[:40]!r} is {len(name)} characters long; "
            f"the limit is {MAX_NAME_LENGTH}. Use a shorter name."
        )
    return name


def lone_surrogate(text: str) -> int | None:
    """The index of the first character UTF-8 cannot encode (a lone surrogate such as
    ``'\\ud800'``, which ``bytes.decode(errors='surrogateescape')`` makes), or None."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return error.start
    return None


def encode_name(name: str) -> str:
    """One safe path component for ``name``; ``decode_name`` reverses it unless it was cut."""
    # quote() never escapes "~", which marks a cut name here: escape it by hand
    encoded = quote(name, safe=_SAFE).replace(_HASHED_MARK, "%7E")
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    if len(encoded) > _MAX_COMPONENT:
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        head = encoded[: _MAX_COMPONENT - 17]
        cut = head.rfind("%")
        if cut >= len(head) - 2:  # never split an escape sequence
            head = head[:cut]
        encoded = f"{head}{_HASHED_MARK}{digest}"
    return encoded


def decode_name(component: str) -> str | None:
    """The name behind ``component``, or None when it was cut (read the file header instead)."""
    if _HASHED_MARK in component:
        return None
    return unquote(component)


def check_extension(ext: object, what: str = "extension") -> str:
    """``ext`` (without a leading dot) if it can end a file name, else raise ``PathEscapeError``.

    The one gate for every extension and content type that becomes part of a path: letters,
    digits, ``_``, ``+`` and ``-``, in dot-separated parts (``png``, ``tar.gz``), at most
    32 characters. So no separator, ``..`` or NUL ever reaches the file system.
    """
    return _check_extension(ext if isinstance(ext, str) else str(getattr(ext, "value", ext)), what)


@functools.lru_cache(maxsize=256)  # a run logs a handful of extensions, many times
def _check_extension(text: str, what: str) -> str:
    stripped = text.lstrip(".")
    if len(stripped) > MAX_EXTENSION_LENGTH or not _EXTENSION.fullmatch(stripped):
        raise PathEscapeError(
            f"The {what} {text[:80]!r} cannot be used in a file name: an extension is letters, "
            "digits, '_', '+' and '-' in dot-separated parts (like 'png' or 'tar.gz'), "
            f"at most {MAX_EXTENSION_LENGTH} characters. Pass one like that."
        )
    return stripped


def check_component(component: str, what: str = "path component") -> str:
    """``component`` if it is one safe path component (what ``encode_name`` makes), else raise."""
    if (not isinstance(component, str) or component in ("", ".", "..") or _SEPARATOR.search(component)
            or (len(component) > 63 and len(component.encode()) > NAME_MAX)):
        raise PathEscapeError(
            f"The {what} {str(component)[:80]!r} is not one path component inside its folder. "
            "Use a plain name (it is encoded safely when logged through labbook)."
        )
    return component


_PROJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def check_project(project: str | None) -> str:
    """``project`` if it is a usable project name (it becomes a folder of the run store)."""
    if not isinstance(project, str) or not _PROJECT.match(project):
        raise ConfigError(
            f"Project name {project!r} is not usable: use 1-128 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit."
        )
    return project
