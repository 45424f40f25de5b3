"""The read side's own object: a ``Workspace`` over one home.

::

    import labbook

    with labbook.Workspace(home="/data/team/.labbook") as ws:
        run = ws.get_run("3f2c...")
        best = ws.search_runs("mnist", filter="metrics.loss < 0.5", order_by=["-metrics.accuracy"])
        model = ws.get_artifact("store://models/mnist/clf:prod")

A workspace resolves its settings once (``Workspace(settings)`` or ``Workspace(home=...)``) and
owns what the reads need: one catalog (its engine opened on first use, closed by ``close()``),
one ``RunStore`` (where the runs live) and one artifact store. Every rule a read applies (the
crashed-run rule included) uses the workspace's settings, never the process's environment, so a
server can hold several workspaces on several homes at once.

The module functions (``labbook.get_run(uuid, home=...)``, ``labbook.search_runs``, the
artifact functions) are one-line shells: each opens a workspace on ``home``, calls the method
and closes it; the run listings keep theirs for the next call on the same home (see
``_listing_workspace``). A long-lived caller (a server, a notebook that reads a lot) keeps one
workspace.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from labbook.config import Settings
from labbook.errors import InvalidValueError, NotFoundError
from labbook.runs import ProjectSummary, RunRecord, RunRow, effective_status
from labbook.store.layout import RUN_FILE, RunStore
from labbook.store.liveness import crashed_before
from labbook.store.record import read_run_record

if TYPE_CHECKING:  # pragma: no cover - names for annotations only
    from labbook.artifacts.api import Artifacts
    from labbook.artifacts.version import ArtifactVersion
    from labbook.catalog.catalog import Catalog

__all__ = [
    "Workspace", "delete_artifact", "gc", "get_artifact", "get_lineage", "get_run", "list_artifacts",
    "list_projects", "list_runs", "reindex", "search_runs", "set_project_artifact_path", "tag_artifact",
    "untag_artifact",
]


class Workspace:
    """One home's catalog, run store and artifact store, and the read and admin API over them.

    ``Workspace(settings)`` uses resolved settings as they are; ``Workspace(home=...)`` resolves
    them once (explicit home, else ``LABBOOK_HOME``, else the nearest ``.labbook``) and refuses a
    home that does not exist: a read never creates one (``create=True`` allows it, for the admin
    calls that may come before the first run).
    """

    def __init__(self, settings: Settings | None = None, *, home: str | Path | None = None,
                 create: bool = False) -> None:
        if settings is not None and home is not None:
            raise InvalidValueError("Workspace() takes settings or home, not both; pass one.")
        if settings is None:
            settings = Settings.load({}, home=home)
            if not create:
                settings.require_home()
        self.settings = settings
        self.home = settings.home
        self.runs = RunStore(settings.artifacts_root)
        self._catalog: Catalog | None = None
        self._artifacts: Artifacts | None = None
        self._lock = threading.Lock()
        self._closed = False

    # -- what it owns ------------------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        """The home's catalog, opened on first use (SQLAlchemy loads then, not at import)."""
        with self._lock:
            if self._closed:
                raise InvalidValueError(f"This workspace on {self.home} is closed; open a new one.")
            if self._catalog is None:
                from labbook.catalog.catalog import Catalog
                from labbook.gcfreeze import freeze_imports

                self._catalog = Catalog(self.settings.catalog_url)
                freeze_imports("catalog")  # SQLAlchemy's objects: not walked at each listing's full collection
            return self._catalog

    def current_catalog(self) -> Catalog:
        """The catalog, once the runs marked as not yet indexed (a run that started or ended a
        moment ago, or was killed then) are indexed from their folders
        (``labbook.catalog.indexer.index_pending``): what the run listings read."""
        catalog = self.catalog
        from labbook.catalog.indexer import index_pending

        index_pending(catalog, self.settings.heartbeat_interval)
        return catalog

    @property
    def artifacts(self) -> Artifacts:
        """The artifact API over this workspace's catalog and artifact store."""
        if self._artifacts is None:
            from labbook.artifacts.api import Artifacts

            self._artifacts = Artifacts(self.settings, self.catalog)
        return self._artifacts

    def close(self) -> None:
        """Close the catalog's connections. Results already returned stay readable."""
        with self._lock:
            self._closed = True
            catalog, self._catalog, self._artifacts = self._catalog, None, None
        if catalog is not None:
            catalog.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Workspace {self.home}{' closed' if self._closed else ''}>"

    # -- runs ----------------------------------------------------------------------------------

    def run_path(self, uuid: str, known: dict[str, str] | None = None) -> Path:
        """The folder of run ``uuid`` (a unique prefix of at least 4 characters is enough);
        ``known``: folders already looked up (``Catalog.run_paths``)."""
        uuid = uuid.replace("-", "").lower()
        catalog = self.current_catalog() if known is None else self.catalog
        path = known.get(uuid) if known is not None else catalog.run_path(uuid)
        if path is None and 4 <= len(uuid) < 32:
            matches = catalog.find_runs_by_prefix(uuid)
            if len(matches) > 1:
                raise NotFoundError(f"Run id prefix {uuid!r} matches several runs; give more characters.")
            if matches:
                path = catalog.run_path(matches[0])
        if path is None or not (Path(path) / RUN_FILE).is_file():
            found = self.runs.find(uuid) if len(uuid) == 32 else None
            if found is None:
                raise NotFoundError(
                    f"No run {uuid!r} in {self.home}. List runs with 'labbook runs ls', or set "
                    "LABBOOK_HOME to the home that holds it."
                )
            path = found
        return Path(path)

    def get_run(self, uuid: str) -> RunRecord:
        """The run ``uuid`` (or a unique prefix), read from its folder (current even mid-run)."""
        return RunRecord(read_run_record(self.run_path(uuid)), self.settings)

    def get_runs(self, uuids: list[str]) -> dict[str, RunRecord | NotFoundError]:
        """Several runs, as ``get_run`` reads each (their folders looked up in one query): for
        each id, its run or the ``NotFoundError`` that ``get_run`` would raise."""
        known = self.current_catalog().run_paths([u.replace("-", "").lower() for u in uuids])
        runs: dict[str, RunRecord | NotFoundError] = {}
        for uuid in uuids:
            try:
                runs[uuid] = RunRecord(read_run_record(self.run_path(uuid, known)), self.settings)
            except NotFoundError as error:
                runs[uuid] = error
        return runs

    def status_of(self, record: dict[str, Any]) -> str:
        """The status to show for run.json's ``record``: the crashed-run rule, with this home's settings."""
        return effective_status(record, self.settings)

    def search_runs(
        self,
        project: str | None = None,
        filter: str | None = None,
        order_by: list[str] | str | None = None,
        limit: int | None = 100,
        offset: int = 0,
        *,
        after: list[Any] | None = None,
    ) -> list[RunRow]:
        """Runs matching ``filter`` (see ``labbook.catalog.query`` for the language), sorted.

        Each row has ``sort_key``, its values in the ordering; pass the last row's as ``after`` to
        get the next page (keyset paging: as fast at row 100,000 as at row 0)."""
        rows = self.current_catalog().search(project, filter, order_by, limit, offset,
                                   crashed_before=crashed_before(self.settings), after=after)
        return [RunRow(row, self.settings) for row in rows]

    def list_runs(self, project: str | None = None, limit: int | None = 100) -> list[RunRow]:
        """The runs of ``project`` (or every project), newest first: ``search_runs`` unfiltered."""
        return self.search_runs(project, limit=limit)

    def list_projects(self) -> list[ProjectSummary]:
        """Every project in the catalog, by name."""
        return [ProjectSummary(**row) for row in self.current_catalog().project_summaries()]

    # -- artifacts -------------------------------------------------------------------------------

    def get_artifact(self, uri: str) -> ArtifactVersion:
        """The version ``uri`` names: ``store://<kind>/<project>/<key>[:tag][@uid]``."""
        return self.artifacts.resolve(uri)

    def list_artifacts(self, project: str | None = None, kind: Any = None, key: str | None = None,
                       labels: Any = None, tag: str | None = None, producer: str | None = None,
                       since: Any = None, until: Any = None, *, latest_only: bool = False,
                       limit: int | None = 100, offset: int = 0, after: Any = None) -> list[ArtifactVersion]:
        """Versions matching every filter given, newest first (see ``labbook.list_artifacts``)."""
        return self.artifacts.list(project, kind, key, labels, tag, producer, since, until,
                                   latest_only=latest_only, limit=limit, offset=offset, after=after)

    def tag_artifact(self, uri: str, tag: str) -> ArtifactVersion:
        """Point user tag ``tag`` at the version ``uri`` names (moving it off another version)."""
        return self.artifacts.tag(uri, tag)

    def untag_artifact(self, uri: str, tag: str) -> None:
        """Remove user tag ``tag`` from the artifact ``uri`` names."""
        self.artifacts.untag(uri, tag)

    def delete_artifact(self, uri: str, *, all_versions: bool = False, data: bool = False) -> list[ArtifactVersion]:
        """Delete the version ``uri`` names (or every version of its key with ``all_versions``);
        ``data=True`` also removes bytes no remaining version uses."""
        return self.artifacts.delete(uri, all_versions=all_versions, data=data)

    def gc(self, project: str | None = None, *, dry_run: bool = False) -> dict[str, int]:
        """Remove stored bytes that no version references (under the artifact store)."""
        return self.artifacts.gc(project, dry_run=dry_run)

    def get_lineage(self, uri_or_run: Any, direction: str = "both", depth: int | None = None) -> Any:
        """The lineage graph around an artifact version (a store URI) or a run (uuid or object):
        ``direction`` ``"up"``, ``"down"`` or ``"both"``; ``depth`` limits the hops. Its run nodes
        (project, name, status) come from the catalog, once the marked runs are indexed (a run
        that ended a moment ago reads ended, and is in its project, as in the listings)."""
        self.current_catalog()
        return self.artifacts.lineage(uri_or_run, direction, depth)

    def set_project_artifact_path(self, project: str, artifact_path: str | None) -> None:
        """Set (or clear, with None) the project's artifact path (see ``labbook.store.policy``)."""
        self.artifacts.set_project_artifact_path(project, artifact_path)

    # -- the index -----------------------------------------------------------------------------

    def index_run(self, path: str | Path) -> None:
        """Bring the catalog's row of the run folder at ``path`` up to date now (what a server
        does after it writes to a run, so lists show the change at once)."""
        from labbook.catalog.indexer import index_run

        index_run(self.catalog, Path(path))

    def reindex(self, *, full: bool = True, progress: Any = None, on_error: Any = None) -> dict[str, Any]:
        """``labbook index [--rebuild]``: bring the catalog in step with the run folders and the
        artifact store (``full`` clears it first; a damaged SQLite file is set aside)."""
        from labbook.catalog.indexer import rebuild_home

        with self._lock:  # the rebuild opens its own catalog and may replace the file
            catalog, self._catalog, self._artifacts = self._catalog, None, None
        if catalog is not None:
            catalog.close()
        return rebuild_home(self.settings, full=full, progress=progress, on_error=on_error)


# -- the module functions: one workspace per call (kept, for the listings) ----------------------
#
# The run listings (search_runs, list_runs, list_projects) keep their workspace for the next call
# on the same home, as a notebook that reads a lot would: opening a catalog and compiling its
# statements again costs more than listing a thousand runs. A kept workspace is used only while
# its SQLite file is the one it opened (a rebuild that set the file aside, or a deleted home,
# opens a new one); a few homes are kept, the least recently used closed first.

_KEPT_WORKSPACES = 4
_kept: dict[tuple[int, Settings], tuple[Workspace, Any]] = {}
_kept_lock = threading.Lock()


def _forked_child() -> None:
    global _kept_lock
    _kept_lock = threading.Lock()
    _kept.clear()  # the parent's connections: never used, nor closed, here


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked_child)


def _catalog_identity(settings: Settings) -> Any:
    """What tells one SQLite catalog file from a new one at the same path (None for servers'
    databases, which stay the same database)."""
    if not settings.catalog_url.startswith("sqlite:///"):
        return None
    try:
        found = os.stat(settings.catalog_url[len("sqlite:///"):])
    except OSError:
        return False  # none yet: never kept
    return (found.st_dev, found.st_ino)


@contextlib.contextmanager
def _listing_workspace(settings: Settings) -> Iterator[Workspace]:
    """A workspace with ``settings`` (a home's) for one listing, kept for the next (see above)."""
    settings.require_home()
    key = (os.getpid(), settings)
    identity = _catalog_identity(settings)
    with _kept_lock:
        kept = _kept.pop(key, None)
    if kept is not None and (kept[1] != identity or identity is False):
        kept[0].close()
        kept = None
    workspace = kept[0] if kept is not None else Workspace(settings)
    try:
        yield workspace
    except BaseException:
        workspace.close()
        raise
    if identity is False:
        identity = _catalog_identity(settings)  # made by this listing's catalog
    evicted = []
    with _kept_lock:
        displaced = _kept.pop(key, None)  # another thread's, for the same home meanwhile
        if displaced is not None:
            evicted.append(displaced[0])
        _kept[key] = (workspace, identity)
        while len(_kept) > _KEPT_WORKSPACES:
            evicted.append(_kept.pop(next(iter(_kept)))[0])
    for old in evicted:
        old.close()


def get_run(uuid: str, *, home: str | Path | None = None) -> RunRecord:
    """The run ``uuid`` (or a unique prefix), read from its folder.

    With ``LABBOOK_HOST`` set, a run this home does not hold is read from the server: its folder
    is pulled, byte for byte, into ``<home>/cache/remote/`` (only the bytes not fetched before)
    and read from there, so the same object comes back (``labbook.remote``)."""
    from labbook import remote

    settings = remote.remote_settings(home)
    try:
        with Workspace(home=home) as workspace:
            return workspace.get_run(uuid)
    except NotFoundError:
        if settings is None:
            raise
    return remote.get_run(uuid, settings)


def search_runs(project: str | None = None, filter: str | None = None, order_by: list[str] | str | None = None,
                limit: int | None = 100, offset: int = 0, *, after: list[Any] | None = None,
                home: str | Path | None = None) -> list[RunRow]:
    """Runs matching ``filter`` (see ``labbook.catalog.query`` for the language), sorted.

    Each row has ``sort_key``, its values in the ordering; pass the last row's as ``after`` to
    get the next page (keyset paging: as fast at row 100,000 as at row 0). With ``LABBOOK_HOST``
    set, the server's catalog answers (``labbook.remote``)."""
    from labbook import remote

    settings = Settings.load({}, home=home)
    server = remote.remote_settings(home, settings)
    if server is not None:
        return remote.search_runs(server, project, filter, order_by, limit, offset, after)
    with _listing_workspace(settings) as workspace:
        return workspace.search_runs(project, filter, order_by, limit, offset, after=after)


def list_runs(project: str | None = None, limit: int | None = 100, *,
              home: str | Path | None = None) -> list[RunRow]:
    """The runs of ``project`` (or every project), newest first: ``search_runs`` unfiltered."""
    return search_runs(project, limit=limit, home=home)


def list_projects(*, home: str | Path | None = None) -> list[ProjectSummary]:
    """Every project in the catalog, by name: ``[p.name for p in labbook.list_projects()]``.
    With ``LABBOOK_HOST`` set, the server's projects (``labbook.remote``)."""
    from labbook import remote

    settings = Settings.load({}, home=home)
    server = remote.remote_settings(home, settings)
    if server is not None:
        return remote.list_projects(server)
    with _listing_workspace(settings) as workspace:
        return workspace.list_projects()


def get_artifact(uri: str, *, home: str | Path | None = None) -> ArtifactVersion:
    """The version ``uri`` names: ``store://<kind>/<project>/<key>[:tag][@uid]``.

    With ``LABBOOK_HOST`` set, a version this home does not hold is read from the server: its
    record, and its bytes into the home's cache (``<home>/cache/remote/``), once."""
    from labbook import remote

    try:
        with Workspace(home=home) as workspace:
            return workspace.get_artifact(uri)
    except NotFoundError:
        settings = remote.remote_settings(home)
        if settings is None:
            raise
    return remote.get_artifact(uri, settings)


def list_artifacts(project: str | None = None, kind: Any = None, key: str | None = None, labels: Any = None,
                   tag: str | None = None, producer: str | None = None, since: Any = None, until: Any = None,
                   *, latest_only: bool = False, limit: int | None = 100, offset: int = 0, after: Any = None,
                   home: str | Path | None = None) -> list[ArtifactVersion]:
    """Versions matching every filter given, newest first, one page (``limit``/``offset``).

    ``kind`` is a kind or a store prefix (``"datasets"``); ``key`` is exact, or a substring
    with a leading ``~``; ``labels`` is a dict or ``"k=v,k2"`` (ANDed; a bare name needs the
    label to exist); ``producer`` is a run uuid (or prefix); ``tag="latest"`` or
    ``latest_only=True`` keeps each key's newest version. ``after`` (the last version of a page,
    or its ``(created_at, version, uid)``) starts the next page right after it, however deep.
    With ``LABBOOK_HOST`` set, the server's versions (``labbook.remote``; ``after`` is local only).
    """
    from labbook import remote

    settings = remote.remote_settings(home)
    if settings is not None:
        return remote.list_artifacts(settings, project, kind, key, labels, tag, producer, since, until,
                                     latest_only=latest_only, limit=limit, offset=offset, after=after)
    with Workspace(home=home) as workspace:
        return workspace.list_artifacts(project, kind, key, labels, tag, producer, since, until,
                                        latest_only=latest_only, limit=limit, offset=offset, after=after)


def tag_artifact(uri: str, tag: str, *, home: str | Path | None = None) -> ArtifactVersion:
    """Point user tag ``tag`` at the version ``uri`` names (moving it off another version).

    With ``LABBOOK_HOST`` set, the server's version is tagged too (``labbook.sync.changes``: at
    once, or by ``labbook sync`` when the server cannot take it now); a version this home does
    not hold is tagged on the server only."""
    from labbook import remote
    from labbook.sync import changes

    settings = remote.remote_settings(home)
    try:
        with Workspace(home=home) as workspace:
            version = workspace.tag_artifact(uri, tag)
    except NotFoundError:
        if settings is None:
            raise
        return remote.tag_artifact(settings, uri, tag)
    if settings is not None:
        changes.send_change(settings, "tag", version.uri, tag=tag)
    return version


def untag_artifact(uri: str, tag: str, *, home: str | Path | None = None) -> None:
    """Remove user tag ``tag`` from the artifact ``uri`` names (on the server too with
    ``LABBOOK_HOST``, as ``tag_artifact`` does)."""
    from labbook import remote
    from labbook.sync import changes

    settings = remote.remote_settings(home)
    try:
        with Workspace(home=home) as workspace:
            workspace.untag_artifact(uri, tag)
    except NotFoundError:
        if settings is None:
            raise
        remote.untag_artifact(settings, uri, tag)
        return
    if settings is not None:
        changes.send_change(settings, "untag", uri, tag=tag)


def delete_artifact(uri: str, *, all_versions: bool = False, data: bool = False,
                    home: str | Path | None = None) -> list[ArtifactVersion]:
    """Delete the version ``uri`` names (or every version of its key with ``all_versions``).

    Metadata only by default; ``data=True`` also removes bytes no remaining version uses.
    Numbers of deleted versions are never reused. With ``LABBOOK_HOST`` set, the server's
    version(s) are deleted too (its ``DELETE /artifacts`` needs an admin token), as
    ``tag_artifact`` does.
    """
    from labbook import remote
    from labbook.sync import changes

    settings = remote.remote_settings(home)
    try:
        with Workspace(home=home) as workspace:
            deleted = workspace.delete_artifact(uri, all_versions=all_versions, data=data)
    except NotFoundError:
        if settings is None:
            raise
        return remote.delete_artifact(settings, uri, all_versions, data)
    if settings is not None and deleted:
        target = uri if all_versions else deleted[0].uri
        changes.send_change(settings, "delete", target, all_versions=all_versions, data=data)
    return deleted


def gc(project: str | None = None, *, dry_run: bool = False, home: str | Path | None = None) -> dict[str, int]:
    """Remove stored bytes that no version references (under the artifact store)."""
    with Workspace(home=home) as workspace:
        return workspace.gc(project, dry_run=dry_run)


def get_lineage(uri_or_run: Any, direction: str = "both", depth: int | None = None, *,
                home: str | Path | None = None) -> Any:
    """The lineage graph around an artifact version (a store URI) or a run (uuid or object).

    ``direction``: ``"up"`` (what produced it and what that was made from), ``"down"`` (what
    consumed it, and onwards) or ``"both"``; ``depth`` limits the hops (None: no limit). With
    ``LABBOOK_HOST`` set, the server's graph (``labbook.remote``: at most 10 hops, None meaning 10).
    """
    from labbook import remote

    settings = remote.remote_settings(home)
    if settings is not None:
        return remote.get_lineage(settings, uri_or_run, direction, depth)
    with Workspace(home=home) as workspace:
        return workspace.get_lineage(uri_or_run, direction, depth)


def set_project_artifact_path(project: str, artifact_path: str | None, *,
                              home: str | Path | None = None) -> None:
    """Set (or clear, with None) the project's artifact path, used when a log call and its
    run do not set one. It may hold ``{{project}}``, ``{{run.uid}}`` and ``{{run.name}}``."""
    with Workspace(home=home, create=True) as workspace:  # may come before the first run
        workspace.set_project_artifact_path(project, artifact_path)


def reindex(*, full: bool = True, home: str | Path | None = None, **options: Any) -> dict[str, Any]:
    """``labbook index [--rebuild]`` for ``home`` (see ``Workspace.reindex``)."""
    with Workspace(home=home) as workspace:
        return workspace.reindex(full=full, **options)
