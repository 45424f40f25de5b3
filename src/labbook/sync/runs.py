"""Remote tracking, local first: push run folders to a server, follow live runs, pull them back.

* ``Syncer``: the background thread a run starts when ``LABBOOK_HOST`` is set. The run writes
  its folder as always; the thread ships new bytes every ``sync_interval`` seconds, and
  ``close(timeout)`` (at ``end()``) makes a last pass, waiting at most ``timeout`` seconds and
  leaving anything unsent in the folder for ``labbook sync``.
* ``push_runs`` / ``push_run``: what ``labbook sync`` and ``push_offline_run`` do.
* ``pull_run``: rebuild a run folder, byte for byte, from a server into a local home.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from labbook.config import Settings
from labbook.errors import ConfigError, LabbookError, NotFoundError
from labbook.store.layout import RUN_FILE
from labbook.sync.client import SyncClient, SyncUnavailableError
from labbook.sync.protocol import APPEND, BLOB, REPLACE, check_rel_path, sha256_file
from labbook.sync.push import PushResult, RunPusher


def client_for(settings: Settings, stop: threading.Event | None = None) -> SyncClient:
    if not settings.host:
        raise ConfigError("No server to sync with: set LABBOOK_HOST=http://server:port (and LABBOOK_TOKEN "
                          "to a write token from 'labbook server token create').")
    return SyncClient(settings.host, settings.token, stop=stop)


def artifact_finder(settings: Settings) -> Callable[[dict[str, Any]], tuple[dict[str, Any], Path] | None]:
    """For a lineage record of a logged artifact: its version record and local bytes (or None
    when the version is not in this home's artifact store, or its bytes live elsewhere)."""

    def find(entry: dict[str, Any]) -> tuple[dict[str, Any], Path] | None:
        from labbook.store.blobs import ARTIFACTS_DIR, ArtifactStore
        from labbook.store.policy import store_root
        from labbook.store.uri import parse_store_uri

        try:
            ref = parse_store_uri(entry.get("uri") or "")
            store = ArtifactStore(store_root(settings))
            if not store.local:
                return None
            for record in store.iter_versions(ref.project, ref.key):
                if record.get("uid") == entry["uid"] and record.get("blob"):
                    path = Path(store.join(ref.project, ARTIFACTS_DIR, *record["blob"].split("/")))
                    whole = path.is_dir() if record.get("is_dir") else path.is_file()
                    return (record, path) if whole else None
        except (LabbookError, OSError, ValueError):
            return None
        return None

    return find


def push_run(folder: str | os.PathLike[str], settings: Settings, *, deadline: float | None = None,
             client: SyncClient | None = None) -> PushResult:
    """Send what the server lacks of one run folder (one pass; see ``RunPusher``)."""
    own = client is None
    client = client or client_for(settings)
    try:
        return RunPusher(client, folder, artifact_finder(settings)).push(deadline)
    finally:
        if own:
            client.close()


def push_folder(folder: Path, settings: Settings, *, artifacts: bool = True, clean: bool = False) -> PushResult:
    """``push_offline_run``: one whole pass within ``sync_timeout``, or ``SyncUnavailableError``;
    with ``clean``, the local folder is removed once the server holds all of it."""
    from labbook.errors import SyncConflictError

    client = client_for(settings)
    try:
        pusher = RunPusher(client, folder, artifact_finder(settings) if artifacts else None)
        result = pusher.push(deadline=time.monotonic() + max(settings.sync_timeout, 1.0))
    finally:
        client.close()
    if result.conflicts:
        raise SyncConflictError(f"The server holds parts of run {folder.name} differently: "
                                f"{result.conflicts[0]}. Nothing was overwritten.")
    if clean:
        import shutil

        from labbook.catalog.catalog import Catalog

        shutil.rmtree(folder)
        catalog = Catalog(settings.catalog_url)
        try:
            catalog.delete_runs([folder.name])
        finally:
            catalog.close()
    return result


def local_runs(settings: Settings, runs: Iterable[str] = ()) -> list[Path]:
    """The run folders of this home named by ``runs`` (uuids or unique prefixes), or all of them."""
    from labbook.catalog.indexer import iter_run_folders

    folders = list(iter_run_folders(Path(settings.artifacts_root)))
    wanted = [r.replace("-", "").lower() for r in runs]
    if not wanted:
        return folders
    chosen = []
    for prefix in wanted:
        found = [f for f in folders if f.name.startswith(prefix)]
        if len(found) != 1:
            what = "no run" if not found else f"{len(found)} runs"
            raise NotFoundError(f"{prefix!r} matches {what} in {settings.artifacts_root}. Pass a run's uuid "
                                "(or a prefix of one run), or --all.")
        chosen.append(found[0])
    return chosen


def is_finished(folder: Path) -> bool:
    import json

    try:
        status = json.loads((folder / RUN_FILE).read_bytes()).get("status")
    except (OSError, ValueError):
        return False
    return status in ("succeeded", "failed", "stopped", "skipped", "upstream_failed", "done")


class Syncer:
    """Ships one live run folder in the background (see the module docstring)."""

    def __init__(self, folder: str | os.PathLike[str], settings: Settings) -> None:
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._settings = settings
        self.folder = Path(folder)
        self.client: SyncClient | None = None  # made by the thread: importing httpx costs the caller nothing
        self.interval = settings.sync_interval
        self.host = settings.host
        self.last_error: str | None = None
        self._final: float | None = None  # deadline of the last pass once close() is called
        self._done = threading.Event()
        self._complete = False
        self._thread = threading.Thread(target=self._loop, name="labbook-syncer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        delay = self.interval
        try:
            self.client = client_for(self._settings, stop=self._stop)
            pusher = RunPusher(self.client, self.folder, artifact_finder(self._settings))
        except Exception as error:  # noqa: BLE001 - reported at close(); the folder keeps everything
            self.last_error = f"{type(error).__name__}: {error}"
            self._done.set()
            return
        while True:
            final = self._final
            try:
                result = pusher.push(deadline=final)
                self.last_error = "; ".join(result.conflicts) or None
                delay = self.interval
                if final is not None:
                    self._complete = not result.conflicts
                    if self._complete:
                        self._send_changes()
                    break
            except SyncUnavailableError as error:
                self.last_error = str(error)
                if final is not None:
                    break
            except Exception as error:  # noqa: BLE001 - never dies: the next pass asks the server afresh
                self.last_error = f"{type(error).__name__}: {error}"
                delay = min(max(delay * 2, 0.5), 5.0)
                if final is not None and time.monotonic() >= final:
                    break
            if final is None:
                self._wake.wait(delay)
                self._wake.clear()
        self._done.set()

    def _send_changes(self) -> None:
        """Artifact changes kept while the run's versions were not on the server yet."""
        from labbook.sync import changes

        try:
            if changes.pending(self._settings):
                changes.flush(self._settings, self.client)
        except Exception as error:  # noqa: BLE001 - kept for 'labbook sync'; the run is complete
            self.last_error = f"{type(error).__name__}: {error}"

    def close(self, timeout: float) -> bool:
        """A last pass after the run's last write, at most ``timeout`` seconds; True when the
        server then holds the whole run folder. Otherwise a line on stderr says what to run."""
        self._final = time.monotonic() + timeout
        self._wake.set()
        self._done.wait(timeout + 1.0)
        if not self._done.is_set():
            self._stop.set()  # cut a retry loop short; the folder keeps what was not sent
            self._done.wait(5.0)
        if self.client is not None:
            self.client.close()
        if not self._complete:
            uuid = self.folder.name
            print(f"labbook: run {uuid} is not fully synced to {self.host} after {timeout:g} s "
                  f"({self.last_error or 'still sending'}); it is complete in its run folder, and "
                  f"'labbook sync {uuid}' sends the rest.", file=sys.stderr)
        return self._complete


def pull_run(uuid: str, settings: Settings, dest: str | os.PathLike[str] | None = None,
             client: SyncClient | None = None, index: bool = True, artifacts: bool = True) -> Path:
    """Rebuild run ``uuid`` from the server into ``dest`` (default: its folder under
    ``settings.artifacts_root``), byte for byte, fetching only what the local folder lacks (an
    append-only file the local copy holds more of is left alone); then index it (``index``).
    ``artifacts=False`` fetches the run's records alone (run.json, ``summaries/``,
    ``heartbeat/``: its metadata and metric summaries), not its events, logs, lineage, assets,
    outputs or code; a later pull with ``artifacts=True`` fetches the rest."""
    from labbook.store.files import write_atomic

    own = client is None
    client = client or client_for(settings)
    try:
        manifest = client.manifest(uuid)
        assert manifest is not None  # without ok_missing, an unknown run raises NotFoundError
        folder = Path(dest) if dest is not None else Path(settings.artifacts_root) / manifest["project"] / manifest["uuid"]
        folder.mkdir(parents=True, exist_ok=True)
        fetched: dict[str, Path] = {}  # blobs written by this pull: sha256 -> a path holding them
        for rel, held in sorted(manifest["files"].items(), key=lambda item: item[0] == RUN_FILE):
            check_rel_path(rel)
            if not artifacts and held["mode"] != REPLACE:
                continue
            path = folder.joinpath(*rel.split("/"))
            size = path.stat().st_size if path.is_file() else -1
            if held["mode"] == APPEND and size >= 0:
                if size < held["size"]:  # only the bytes the local copy lacks
                    with open(path, "ab") as handle:
                        handle.write(_tail(client, manifest["uuid"], rel, size))
                continue
            if size == held["size"] and held.get("sha256") and sha256_file(path) == held["sha256"]:
                continue
            if held["mode"] == BLOB and held["sha256"] in fetched:  # the same bytes at another path
                data = fetched[held["sha256"]].read_bytes()
            elif held["mode"] == BLOB:
                data = client.download(f"/sync/blobs/{held['sha256']}")
            elif held["mode"] == APPEND:
                data = _tail(client, manifest["uuid"], rel, 0)
            else:
                data = client.download(_file_url(manifest["uuid"], rel))
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data, durable=False)
            if held["mode"] == BLOB:
                fetched[held["sha256"]] = path
        if dest is None and index:
            from labbook.catalog.catalog import Catalog
            from labbook.catalog.indexer import index_run

            catalog = Catalog(settings.catalog_url)
            try:
                index_run(catalog, folder)
            finally:
                catalog.close()
        return folder
    finally:
        if own:
            client.close()


def _tail(client: SyncClient, uuid: str, rel: str, start: int) -> bytes:
    """An append-only file's committed bytes from ``start``, wherever the server keeps it."""
    return client.call("GET", f"/sync/runs/{uuid}/bytes", params={"path": rel, "start": start}, raw=True).content


def _file_url(uuid: str, rel: str) -> str:
    from urllib.parse import quote

    return f"/runs/{uuid}/files/{quote(rel, safe='/')}"
