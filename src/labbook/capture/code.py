"""The code version: git commit, branch, remote, dirty flag and the uncommitted diff.

The repository is the one holding the script being run (``__main__.__file__``), not merely the
working directory, so ``python ~/proj/train.py`` from anywhere records ``~/proj``'s state.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@]*@", re.IGNORECASE)
MAX_DIFF_BYTES = 10 * 1024 * 1024


def strip_credentials(url: str) -> str:
    """``https://user:token@host/x`` → ``https://host/x``; ``git@host:x`` is kept."""
    return _CREDENTIALS.sub(r"\g<scheme>", url)


def script_dir(entry: str | None = None) -> Path:
    """The folder of the entry script (``entry``, else ``__main__.__file__``), else the CWD."""
    main_file = entry or getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file:
        return Path(main_file).resolve().parent
    return Path.cwd()


def _git(cwd: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.decode("utf-8", "replace").strip()


# folder -> (summary, diff): what this process found there first (see capture_code)
_captured: dict[Path, tuple[dict[str, Any], str | None]] = {}
_captured_lock = threading.Lock()


def capture_code(start: Path | None = None, entry: str | None = None) -> tuple[dict[str, Any], str | None]:
    """(code summary, uncommitted diff or None). An empty summary outside a git repository.

    Asked once per process and folder: the code a process runs is what it imported when it
    started, so every run it starts records that state, without running git again for each
    (five git commands cost tens of milliseconds; a script may start thousands of runs)."""
    cwd = start or script_dir(entry)
    with _captured_lock:
        found = _captured.get(cwd)
        if found is None:
            found = _captured[cwd] = _capture(cwd)
    return _copy(found)


def captured_code(entry: str | None = None) -> tuple[dict[str, Any], str | None] | None:
    """What ``capture_code(entry=entry)`` returns, if this process has asked git already
    (then a run's start records it with its first write of run.json); None if not yet."""
    found = _captured.get(script_dir(entry))
    return None if found is None else _copy(found)


def _copy(found: tuple[dict[str, Any], str | None]) -> tuple[dict[str, Any], str | None]:
    summary, diff = found
    return {**summary, "untracked": list(summary.get("untracked", []))} if summary else {}, diff


def _capture(cwd: Path) -> tuple[dict[str, Any], str | None]:
    top = _git(cwd, "rev-parse", "--show-toplevel")
    if not top:
        return {}, None
    root = Path(top)
    commit = _git(root, "rev-parse", "HEAD")
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
    remote = _git(root, "config", "--get", "remote.origin.url")
    status = _git(root, "status", "--porcelain", "--untracked-files=normal") or ""
    untracked = [line[3:] for line in status.splitlines() if line.startswith("??")]
    dirty = any(not line.startswith("??") for line in status.splitlines() if line)
    diff = None
    if dirty and commit:
        text = _git(root, "diff", "HEAD", "--binary")
        if text:
            diff = text if len(text) <= MAX_DIFF_BYTES else text[:MAX_DIFF_BYTES] + "\n# diff cut at 10 MiB\n"
    summary = {
        "commit": commit,
        "branch": None if branch == "HEAD" else branch,
        "remote": strip_credentials(remote) if remote else None,
        "repository": str(root),
        "dirty": dirty,
        "untracked": untracked[:1000],
    }
    return summary, diff
