"""``ArtifactVersion``: one catalogued version, as the read API returns it.

::

    version = labbook.get_artifact("store://datasets/churn/train:prod")
    version.version, version.uid, version.tags      # 2, '9f1c...', ['latest', 'prod']
    df = version.as_df()
    version.download("train.parquet")
"""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from labbook.errors import ArtifactIntegrityError, InvalidValueError
from labbook.store.blobs import ArtifactStore
from labbook.store.kinds import prefix_for
from labbook.store.policy import ReadPolicy, store_root
from labbook.store.uri import StoreUri


def record_location(store: ArtifactStore, record: dict[str, Any]) -> str:
    """Where a version's bytes live: a local path or a URL."""
    if record.get("url"):
        return record["url"]
    return store.url(f"{store.project_dir(record['project'])}/{record['blob']}")


class ArtifactVersion:
    """One immutable version of an artifact (see the module docstring)."""

    def __init__(self, record: dict[str, Any], tags: list[str] | None = None, *, settings: Any,
                 store: ArtifactStore | None = None) -> None:
        self.record = record
        self._settings = settings
        self._store_given = store
        self.project: str = record["project"]
        self.key: str = record["key"]
        self.kind: str = record["kind"]
        self.version: int = record["number"]
        self.uid: str = record["uid"]
        self.hash: str = record["hash"]
        self.size: int = record["size"]
        self.is_dir: bool = bool(record.get("is_dir"))
        self.format: str | None = record.get("format")
        self.labels: dict[str, Any] = dict(record.get("labels") or {})
        self.summary: dict[str, Any] = dict(record.get("summary") or {})
        self.meta: dict[str, Any] = dict(record.get("meta") or {})
        self.producer: dict[str, Any] = dict(record.get("producer") or {})
        self.sources: list[Any] = list(record.get("sources") or [])
        self.links: dict[str, str] = dict(record.get("links") or {})
        self.description: str | None = record.get("description")
        self.tags: list[str] = list(tags or [])

    @property
    def _store(self) -> ArtifactStore:
        """The artifact store it was read from (its workspace's), else the settings' one."""
        if self._store_given is None:
            self._store_given = ArtifactStore(store_root(self._settings))
        return self._store_given

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self.record["created_at"])

    @property
    def location(self) -> str:
        return record_location(self._store, self.record)

    @property
    def uri(self) -> str:
        """The pinned URI: ``store://<kind>/<project>/<key>@<uid>``."""
        return str(StoreUri(prefix_for(self.kind), self.project, self.key, uid=self.uid))

    def uri_with(self, tag: str | None = None) -> str:
        """A tag-following URI: ``uri_with("prod")``; ``uri_with()`` follows ``latest``."""
        return str(StoreUri(prefix_for(self.kind), self.project, self.key, tag=tag))

    # -- reading ---------------------------------------------------------------------------

    def _readable(self) -> str:
        location = ReadPolicy.from_settings(self._settings).check(self.location)
        recorded = self.record.get("blob_stat")
        if recorded and "://" not in location:
            from labbook.store.blobs import blob_fingerprint

            now = blob_fingerprint(location)
            # Only the same file is comparable: a copied store has other inodes and times.
            if now["ino"] == recorded["ino"] and (now["size"], now["mtime_ns"]) != (recorded["size"], recorded["mtime_ns"]):
                raise ArtifactIntegrityError(
                    f"The stored bytes of {self.uri} (v{self.version}) at {location} were changed in "
                    "place after logging (size or modification time differ), so they may no longer "
                    f"match hash {self.hash[:12]}. Write new files instead of rewriting logged ones; "
                    "restore the file or delete this version."
                )
        return location

    def local_path(self) -> str:
        """A local path to the bytes: the stored file itself, or a cached download."""
        location = self._readable()
        if "://" not in location:
            return location
        cache = Path(self._settings.home) / "cache" / "artifacts" / self.uid / self._file_name()
        if not cache.exists():
            self.download(cache)
        return str(cache)

    def _file_name(self) -> str:
        ext = self.record.get("ext") or ""
        return f"{self.key}{ext}"

    def download(self, dest: str | os.PathLike[str]) -> str:
        """Copy the bytes to ``dest`` (a file, or a folder for directory artifacts); returns it."""
        location = self._readable()
        target = Path(dest).expanduser()
        if target.is_dir() and not self.is_dir:
            target = target / self._file_name()
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        if "://" not in location:
            if self.is_dir:
                shutil.copytree(location, partial, dirs_exist_ok=True, copy_function=shutil.copyfile)
            else:
                shutil.copyfile(location, partial)
        else:
            store = ArtifactStore(location)
            store.fs.get(store.base, str(partial), recursive=self.is_dir)
        if self.is_dir and target.exists():
            shutil.rmtree(target)
        os.replace(partial, target)
        return str(target)

    def open(self, mode: str = "rb", path: str | None = None):
        """A read-only file object (``path`` picks a file inside a directory artifact)."""
        if any(flag in mode for flag in "wax+"):
            raise InvalidValueError(f"Artifact versions are immutable; open() takes 'r' or 'rb', not {mode!r}.")
        location = self._readable()
        if self.is_dir:
            if not path:
                raise InvalidValueError(f"{self.uri} is a directory; pass path= to open one of its files.")
            from labbook.store.layout import safe_join

            if "://" not in location:
                return open(safe_join(Path(location), path, "file in the artifact"), mode)
            safe_join(Path("/x"), path, "file in the artifact")
            location = f"{location}/{path}"
        return self._store.open(location, mode)

    def read_bytes(self) -> bytes:
        with self.open("rb") as handle:
            return handle.read()

    def as_df(self, **kwargs: Any):
        """The data as a pandas DataFrame (Parquet or CSV datasets, feature sets and vectors)."""
        from labbook.artifacts.datasets import read_frame

        return read_frame(self, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {**self.record, "version": self.version, "uri": self.uri, "tags": self.tags,
                "location": self.location}

    def __repr__(self) -> str:
        return f"<ArtifactVersion {self.uri} v{self.version} {self.kind} tags={self.tags}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ArtifactVersion) and other.uid == self.uid

    def __hash__(self) -> int:
        return hash(self.uid)
