"""The run folder: the one module that knows where each part of a run lives on disk.

::

    <artifacts root>/<project>/<run uuid>/
      run.json          metadata snapshot (see docs/format.md)
      outputs/          the user's files; unstepped log_artifact / log_model land here
      assets/<kind>/<name>_<step>.<ext>
      events/<kind>/<encoded name>/<writer id>.<ext>
      summaries/<writer id>.json    per-writer metric summaries
      lineage.jsonl     artifact records produced or consumed by this run
      logs/             captured stdout/stderr
      resources/<writer id>[.<n>].lbr   system samples, one file per sampling writer
      resources/metric/<encoded name>/<writer id>.lbm   the same, as earlier versions wrote them
      heartbeat/<writer id>.json    one per live process (see labbook.store.liveness)
      code/             uncommitted git diff

``RunStore`` owns the level above: where the run of a project and uuid lives under a root (a
local folder, or an fsspec URL such as ``s3://bucket/runs`` for reading); ``RunFolder`` owns
every path inside one run.

Every path component built here passes ``check_component`` (names are encoded with
``encode_name``, extensions checked with ``check_extension``), and writers create folders and
new files through ``make_dirs`` / ``create_file``, which follow no symbolic link below the run
folder. The check walks the folders with ``O_NOFOLLOW`` file descriptors, so a link planted in
the run folder (``assets/image -> /elsewhere``) is refused, not written through. What is out of
reach: a process of the same user swapping a folder for a link between that walk and the write
that follows; the run folder belongs to the user running the script.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from labbook.errors import PathEscapeError
from labbook.store.names import NAME_MAX, check_component, check_extension, check_name, decode_name, encode_name

RUN_FILE = "run.json"
LINEAGE_FILE = "lineage.jsonl"
LOG_DIR = "logs"
HEARTBEAT_DIR = "heartbeat"
CODE_DIR = "code"
DIFF_FILE = "uncommitted.diff"
METRIC_EXT = ".lbm"
JSONL_EXT = ".jsonl"
RESOURCES_EXT = ".lbr"


def safe_join(root: Path, rel_path: str | os.PathLike[str], what: str = "rel_path") -> Path:
    """``root / rel_path``, refusing anything that would land outside ``root``."""
    text = os.fspath(rel_path)
    if "\x00" in text:
        raise PathEscapeError(f"The {what} {text!r} contains a NUL character. Remove it.")
    pure = PurePosixPath(text.replace("\\", "/"))
    if pure.is_absolute() or any(part == ".." for part in pure.parts):
        raise PathEscapeError(
            f"The {what} {text!r} would leave {root}. "
            "Pass a path relative to it, without '..' or a leading '/'."
        )
    too_long = next((part for part in pure.parts if len(part) > 63 and len(part.encode()) > NAME_MAX), None)
    if too_long is not None:  # the file system would answer ENAMETOOLONG: no such file can exist
        raise PathEscapeError(
            f"The {what} {text[:80]!r}... has a part of {len(too_long.encode())} bytes; file names hold at "
            f"most {NAME_MAX}. Pass the path of a file inside the folder."
        )
    target = root.joinpath(*pure.parts) if pure.parts else root
    resolved_root = root.resolve()
    resolved = target.resolve()
    if resolved != resolved_root and resolved_root not in resolved.parents:
        raise PathEscapeError(
            f"The {what} {text!r} resolves to {resolved}, outside {resolved_root} "
            "(through a symbolic link). Pass a path inside the folder."
        )
    return target


@dataclass(frozen=True)
class RunFolder:
    """Paths inside one run's folder. Creates nothing unless asked."""

    path: Path

    @property
    def run_file(self) -> Path:
        return self.path / RUN_FILE

    @property
    def outputs(self) -> Path:
        return self.path / "outputs"

    @property
    def assets(self) -> Path:
        return self.path / "assets"

    @property
    def events(self) -> Path:
        return self.path / "events"

    @property
    def summaries(self) -> Path:
        return self.path / "summaries"

    @property
    def lineage_file(self) -> Path:
        return self.path / LINEAGE_FILE

    @property
    def logs(self) -> Path:
        return self.path / LOG_DIR

    @property
    def heartbeat(self) -> Path:
        return self.path / HEARTBEAT_DIR

    @property
    def resources(self) -> Path:
        return self.path / "resources"

    @property
    def code(self) -> Path:
        return self.path / CODE_DIR

    @property
    def diff_file(self) -> Path:
        return self.code / DIFF_FILE

    def create(self) -> None:
        """The run folder and its ``outputs/`` (the user's, who may write there at once); the
        other folders are made by their first write (every writer here makes its folders)."""
        self.outputs.mkdir(parents=True, exist_ok=True)

    # -- events -------------------------------------------------------------------------

    def series_dir(self, kind: str, name: str, root: Path | None = None) -> Path:
        """Folder holding every writer's file for one (kind, name) series."""
        return (root or self.events) / encode_name(check_name(kind, "event kind")) / encode_name(name)

    def series_file(self, kind: str, name: str, writer_id: str, root: Path | None = None) -> Path:
        ext = METRIC_EXT if kind == "metric" else JSONL_EXT
        return self.series_dir(kind, name, root) / f"{writer_id}{ext}"

    def series_names(self, kind: str, root: Path | None = None) -> list[str]:
        """Exact names of the series of ``kind``, read back from folder names (or headers)."""
        from labbook.store.format import read_header

        kind_dir = (root or self.events) / encode_name(kind)
        if not kind_dir.is_dir():
            return []
        names = []
        for entry in sorted(kind_dir.iterdir()):
            name = decode_name(entry.name)
            if name is None:  # cut because too long: the header has the exact name
                files = sorted(entry.iterdir())
                name = read_header(files[0])["name"] if files else None
            if name is not None:
                names.append(name)
        return names

    def event_kinds(self, root: Path | None = None) -> list[str]:
        base = root or self.events
        if not base.is_dir():
            return []
        return sorted(decode_name(p.name) or p.name for p in base.iterdir() if p.is_dir())

    # -- resources ----------------------------------------------------------------------

    def resources_file(self, writer_id: str, segment: int = 0) -> Path:
        """``resources/<writer id>.lbr``, and ``<writer id>.<segment>.lbr`` for the files a writer
        starts when its samples gain a series (segments 1, 2, ...)."""
        stem = writer_id if segment == 0 else f"{writer_id}.{int(segment)}"
        return self.resources / check_component(f"{stem}{RESOURCES_EXT}", "resources file name")

    def resource_files(self) -> list[Path]:
        """Every writer's resources files, each writer's segments in order (the older layout,
        ``resources/metric/``, is read as metric series: ``series_dir(..., root=resources)``)."""
        if not self.resources.is_dir():
            return []
        return sorted(self.resources.glob(f"*{RESOURCES_EXT}"), key=_segment_order)

    # -- assets and user paths ------------------------------------------------------------

    def asset_path(self, kind: str, name: str, step: int | None, ext: str | None) -> Path:
        """``assets/<kind>/<name>[_<step>][.<ext>]`` with the name made safe."""
        stem = encode_name(check_name(name, "asset name"))
        if step is not None:
            stem = f"{stem}_{int(step)}"
        if ext:
            stem = f"{stem}.{check_extension(ext)}"
        return self.assets / check_component(encode_name(kind), "asset kind") / check_component(stem, "asset file name")

    def artifacts_path(self, rel_path: str | None = None) -> Path:
        return self.path if not rel_path else safe_join(self.path, rel_path)

    def outputs_path(self, rel_path: str | None = None) -> Path:
        return self.outputs if not rel_path else safe_join(self.outputs, rel_path)

    def relative(self, path: Path) -> str:
        """``path`` relative to the run folder, with forward slashes."""
        return Path(path).resolve().relative_to(self.path.resolve()).as_posix()

    # -- writing without following links -------------------------------------------------

    def _parts(self, path: Path) -> tuple[str, ...]:
        try:
            parts = Path(path).relative_to(self.path).parts
        except ValueError:
            raise PathEscapeError(f"{path} is not inside the run folder {self.path}.") from None
        for part in parts:
            check_component(part, "path component")
        return parts

    def _open_dirs(self, parts: tuple[str, ...]) -> int:
        """A descriptor of the folder ``parts`` below the run folder, made where missing; no
        component may be a symbolic link."""
        fd = os.open(self.path, os.O_RDONLY | _DIRECTORY)
        try:
            for index, part in enumerate(parts):
                try:
                    os.mkdir(part, 0o777, dir_fd=fd)
                except FileExistsError:
                    pass
                try:
                    child = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=fd)
                except OSError as error:
                    if error.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                        raise _link_error(self.path.joinpath(*parts[: index + 1])) from None
                    raise
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd

    def make_dirs(self, path: Path) -> Path:
        """Create the folder ``path`` (inside the run folder) and its parents, through no link."""
        parts = self._parts(path)
        if not _SAFE_OPEN:
            return _checked_makedirs(self.path, parts)
        os.close(self._open_dirs(parts))
        return Path(path)

    def create_file(self, path: Path) -> Path:
        """Create ``path`` empty and new (``FileExistsError`` if anything is there, a link
        included), its folders made as ``make_dirs`` does."""
        parts = self._parts(path)
        if not parts:
            raise PathEscapeError(f"{path} is the run folder itself, not a file in it.")
        if not _SAFE_OPEN:
            _checked_makedirs(self.path, parts[:-1])
            with open(path, "xb"):
                return Path(path)
        fd = self._open_dirs(parts[:-1])
        try:
            os.close(os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644, dir_fd=fd))
        finally:
            os.close(fd)
        return Path(path)


_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_SAFE_OPEN = bool(_NOFOLLOW and _DIRECTORY) and os.open in os.supports_dir_fd and os.mkdir in os.supports_dir_fd


def _link_error(path: Path) -> PathEscapeError:
    return PathEscapeError(
        f"{path} is a symbolic link (or not a folder); labbook writes only inside the run folder and "
        "follows no link there. Remove the link and log again."
    )


def _checked_makedirs(root: Path, parts: tuple[str, ...]) -> Path:  # pragma: no cover - no O_NOFOLLOW
    """Where descriptors cannot be walked (Windows): check each component with lstat."""
    current = root
    for part in parts:
        current = current / part
        try:
            current.mkdir()
        except FileExistsError:
            pass
        if current.is_symlink() or not current.is_dir():
            raise _link_error(current)
    return current


def _segment_order(path: Path) -> tuple[str, int]:
    writer, _, segment = path.name[: -len(RESOURCES_EXT)].partition(".")
    return writer, int(segment) if segment.isdigit() else 0


_RUN_DIR = re.compile(r"^[0-9a-f]{32}$")


class RunStore:
    """Where runs live: ``<root>/<project>/<uuid>/``, under a local folder or an fsspec URL.

    ::

        runs = RunStore(settings.artifacts_root)
        runs.folder("mnist", uuid)            # RunFolder(<root>/mnist/<uuid>)
        runs.find(uuid)                       # the folder holding run.json, or None
        list(runs.iter_runs())                # every run folder, by project then uuid

    Writing goes through local paths (``folder``); a URL root (``s3://bucket/runs``) can be
    listed and read (``read_bytes``), which is what a server reading a synced store needs.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        text = os.fspath(root)
        self.url = text
        self.local = "://" not in text or text.startswith("file://")
        self.root = Path(text[len("file://"):] if text.startswith("file://") else text) if self.local else None
        self._fs = None

    @property
    def fs(self) -> Any:
        """The fsspec filesystem of a URL root (imported on first use)."""
        if self._fs is None:
            import fsspec

            self._fs = fsspec.core.url_to_fs(self.url)[0]
        return self._fs

    def path(self, project: str, uuid: str) -> Path:
        """The local folder of run ``uuid`` of ``project`` (whether it exists or not)."""
        if self.root is None:
            raise PathEscapeError(f"The run store {self.url} is not a local folder; read it with read_bytes().")
        return self.root / check_component(project, "project") / uuid

    def folder(self, project: str, uuid: str) -> RunFolder:
        return RunFolder(self.path(project, uuid))

    def find(self, uuid: str, project: str | None = None) -> Any:
        """The folder of an existing run (a Path; a URL string for a URL root): under ``project``
        when given, else any project's."""
        if self.root is None:
            for run_url in self._iter_urls():
                if run_url.rsplit("/", 1)[-1] == uuid:
                    return run_url
            return None
        if project:
            candidate = self.root / project / uuid
            if (candidate / RUN_FILE).is_file():
                return candidate
        if self.root.is_dir():
            for project_dir in self.root.iterdir():
                candidate = project_dir / uuid
                if (candidate / RUN_FILE).is_file():
                    return candidate
        return None

    def iter_runs(self) -> Iterator[Any]:
        """Every ``<root>/<project>/<uuid>/`` holding a run.json (local paths, or URLs)."""
        if self.root is None:
            yield from self._iter_urls()
            return
        if not self.root.is_dir():
            return
        for project_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for run_dir in sorted(project_dir.iterdir()):
                if _RUN_DIR.match(run_dir.name) and (run_dir / RUN_FILE).is_file():
                    yield run_dir

    def _iter_urls(self) -> Iterator[str]:
        fs, base = self.fs, self.url.rstrip("/")
        if not fs.exists(base):
            return
        for project_dir in sorted(fs.ls(base, detail=False)):
            if not fs.isdir(project_dir):
                continue
            for run_dir in sorted(fs.ls(project_dir, detail=False)):
                name = run_dir.rstrip("/").rsplit("/", 1)[-1]
                if _RUN_DIR.match(name) and fs.exists(f"{run_dir}/{RUN_FILE}"):
                    yield f"{self.url.split('://', 1)[0]}://{run_dir}" if "://" not in run_dir else run_dir

    def read_bytes(self, run: str | os.PathLike[str], rel_path: str) -> bytes:
        """The bytes of ``rel_path`` inside run folder ``run`` (a path or URL this store gave)."""
        if self.root is not None:
            return safe_join(Path(run), rel_path, "file path").read_bytes()
        safe_join(Path("/x"), rel_path, "file path")
        with self.fs.open(f"{os.fspath(run).rstrip('/')}/{rel_path}", "rb") as handle:
            return handle.read()

    def __repr__(self) -> str:
        return f"<RunStore {self.url}>"
