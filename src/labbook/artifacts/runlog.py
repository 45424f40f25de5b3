"""Helpers the artifact Run methods share: the run's artifact state, the catalog context,
source checks, copying into the run folder, lineage appends and registration."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labbook.artifacts.lineage import RunArtifact, append_lineage
from labbook.errors import InvalidValueError
from labbook.store.layout import safe_join
from labbook.store.names import check_name
from labbook.store.uri import check_key, is_store_uri
from labbook.writer.surface import RunSurface

if TYPE_CHECKING:
    from labbook.artifacts.api import Artifacts

# Old Polyaxon arguments that no longer change anything (``versioned`` was removed upstream).
_IGNORED = frozenset({"versioned"})



def _state(run: RunSurface) -> dict[str, Any]:
    return run._artifact_state


def _context(run: RunSurface) -> Artifacts:
    """The artifact API over the run's settings and the catalog its indexer holds open (a forked
    child has no indexer: it opens the catalog once for itself)."""
    from labbook.artifacts.api import Artifacts
    from labbook.catalog.indexer import RunIndexer

    indexer = run._indexer
    if isinstance(indexer, RunIndexer):
        return Artifacts(run._settings, indexer.catalog)
    state = _state(run)
    if state.get("catalog_pid") != os.getpid():
        from labbook.catalog.catalog import Catalog

        state["catalog"], state["catalog_pid"] = Catalog(run._settings.catalog_url), os.getpid()
    return Artifacts(run._settings, state["catalog"])


def _existing(path: Any, function: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidValueError(f"{function}(): path must be a file or folder path, got {type(path).__name__}.")
    source = Path(path).expanduser()
    if not source.exists():
        raise InvalidValueError(
            f"Artifact path {str(path)!r} does not exist (cwd: {Path.cwd()}). Pass an existing file or directory."
        )
    return source.absolute()  # a link is read through, and left as it is


def _no_extra(function: str, kwargs: dict[str, Any]) -> None:
    unknown = sorted(set(kwargs) - _IGNORED)
    if unknown:
        raise InvalidValueError(f"{function}() got unexpected arguments {unknown}. See help(Run.{function}).")


def _stem(path: Path) -> str:
    """``file.tar.gz`` → ``file`` (Polyaxon's default name)."""
    name = path.name
    return name.split(".", 1)[0] if not name.startswith(".") and "." in name else name


def _producer(run: RunSurface) -> dict[str, Any]:
    from labbook.artifacts.publish import default_producer

    env = run._record.get("env") or {}
    code = run._record.get("code") or {}
    fallback = default_producer()
    return {"kind": "run", "run": run.uuid, "name": run.name, "project": run.project,
            "user": env.get("user") or fallback["user"], "host": env.get("hostname") or fallback["host"],
            "git_commit": code.get("commit")}


def _pinned(run: RunSurface, values: Any, what: str) -> Any:
    """Store URIs resolved to pinned ones (``...@uid``); ArtifactVersions to their URI."""
    from labbook.artifacts.api import resolve

    def pin(value: Any) -> str:
        if hasattr(value, "uri") and hasattr(value, "uid"):
            return value.uri
        if is_store_uri(value):
            return resolve(_context(run), value).uri
        raise InvalidValueError(f"{what} takes store URIs or artifact versions; got {value!r:.60}.")

    if values is None:
        return None
    if isinstance(values, dict):
        return {check_name(k, f"{what} name"): pin(v) for k, v in values.items()}
    return [pin(v) for v in ([values] if isinstance(values, str) else values)]


def _artifact_path(run: RunSurface, call: str | None) -> str:
    from labbook.store.policy import resolve_artifact_path

    ctx = _context(run)
    return resolve_artifact_path(run._settings, run.project, call=call,
                                 run={"uuid": run.uuid, "name": run.name, "meta": run._record.get("meta")},
                                 project_settings=ctx.project_settings(run.project))


def _record_lineage(run: RunSurface, artifacts: list[RunArtifact]) -> list[dict[str, Any]]:
    """Append to the run's lineage.jsonl (the record), then index (repairable by a rebuild)."""
    from labbook.catalog.artifacts import index_lineage, lineage_row

    records = [a.to_record() for a in artifacts]
    append_lineage(run._folder.lineage_file, records)
    try:
        index_lineage(_context(run).catalog, [lineage_row(run.project, run.uuid, r) for r in records])
    except Exception as error:  # noqa: BLE001 - the folder is the record; 'labbook index --rebuild' repairs
        if run._indexer is not None:  # None in a forked child, which has no indexer
            run._indexer.errors.append(f"{type(error).__name__}: {error}")
    return records


def _register(run: RunSurface, source: Path, key: str, kind: str, *, labels: Any = None, summary: Any = None,
              meta: Any = None, sources: Any = None, links: Any = None, format: str | None = None,
              description: str | None = None, artifact_path: str | None = None):
    from labbook.artifacts.publish import publish

    check_key(key)
    explicit = _pinned(run, sources, "sources") or []
    consumed = [u for u in _state(run)["consumed"] if u not in explicit]
    version, _created = publish(
        run._settings, run.project, key, kind, source, artifact_path=_artifact_path(run, artifact_path),
        producer=_producer(run), labels=_json_dict(labels, "labels"), summary=_json_dict(summary, "summary"),
        meta=meta, sources=[{"uri": u} for u in explicit + consumed], links=_pinned(run, links, "links"),
        format=format, description=description, catalog=_context(run).catalog,
    )
    return version


def _json_dict(value: Any, what: str) -> dict[str, Any]:
    """``value`` as JSON data by the project's one rule (``json_value``: NaN and infinities
    kept as ``"nan"``, ``"inf"``, ``"-inf"``)."""
    from labbook._values import json_value

    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidValueError(f"{what} must be a dict, got {type(value).__name__} ({value!r:.60}).")
    return json_value(what, what, value)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        from labbook.store.blobs import ArtifactStore

        ArtifactStore(path.parent).remove(str(path))
    elif path.exists() or path.is_symlink():
        path.unlink()


def _copy_into(run: RunSurface, source: Path, dest: Path) -> None:
    """Copy the user's file or folder ``source`` to ``dest`` in the run folder, replacing what
    was there. ``source`` is only read: it stays where it was, with the same bytes and inode
    (a clone shares its blocks where the file system can). No link below the run folder is
    followed (``RunFolder.make_dirs``)."""
    from labbook.store.files import copy_file, copy_tree

    if not dest.is_symlink() and dest.exists() and os.path.samefile(source, dest):
        return  # the user wrote it there already (run.get_outputs_path)
    run._folder.make_dirs(dest.parent)
    if source.is_dir():
        _remove(dest)
        copy_tree(source, dest)
    else:
        if dest.is_dir() and not dest.is_symlink():
            _remove(dest)
        copy_file(source, dest)  # a rename into place: replaces a link, never writes through it


def _outputs_dest(run: RunSurface, rel_path: str | None, file_name: str) -> Path:
    """``outputs/[<rel_path>/]<file_name>``, its folders made through no symbolic link."""
    base = run._folder.outputs_path(rel_path) if rel_path else run._folder.outputs
    dest = safe_join(base, file_name, "file name")
    run._folder.make_dirs(dest.parent)
    return dest
