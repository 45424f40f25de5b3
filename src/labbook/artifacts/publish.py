"""Making a new version: hash, store the bytes once, number it, record it, index it.

::

    version, created = publish(settings, "churn", "train", "dataset", Path("train.parquet"),
                               catalog=workspace.catalog)

Logging a key again with content identical to its newest version makes no new version and
returns that one. Otherwise the next number is taken under a per-key lock (local stores), the
bytes are stored content-addressed (a hard link when possible), and an immutable JSON record
is written atomically before the catalog is told. A damaged newest record (empty or cut short
by a crash) is set aside as ``.damaged`` and its number is not reused.
"""

from __future__ import annotations

import getpass
import hashlib
import socket
from pathlib import Path
from typing import Any

from labbook._time import utc_now_iso
from labbook.artifacts.version import ArtifactVersion
from labbook.errors import RunStateError
from labbook.store.blobs import MAX_NUMBER_RETRIES, VERSION_SCHEMA, VERSION_SCHEMA_VERSION, ArtifactStore
from labbook.store.hashing import hash_dir, hash_file
from labbook.store.names import encode_name
from labbook.store.policy import store_root
from labbook.store.uri import check_key


def make_uid(project: str, key: str, digest: str, number: int) -> str:
    """The version uid: derived from the content hash, the key and the number, never changing."""
    return hashlib.sha256(f"labbook.artifact\0{project}\0{key}\0{number}\0{digest}".encode()).hexdigest()[:32]


def file_ext(path: Path, is_dir: bool) -> str:
    """``.tar.gz`` for ``model.tar.gz``; nothing for directories or odd suffixes."""
    if is_dir:
        return ""
    suffixes = [s for s in path.suffixes if 1 < len(s) <= 10 and s[1:].isalnum()]
    return "".join(suffixes[-2:])


def default_producer() -> dict[str, Any]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    return {"kind": "client", "user": user, "host": socket.gethostname()}


def publish(
    settings: Any,
    project: str,
    key: str,
    kind: str,
    source: Path,
    *,
    artifact_path: str | None = None,
    producer: dict[str, Any] | None = None,
    labels: dict[str, Any] | None = None,
    summary: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
    sources: list[Any] | None = None,
    links: dict[str, str] | None = None,
    format: str | None = None,
    description: str | None = None,
    catalog: Any,
) -> tuple[ArtifactVersion, bool]:
    """Store ``source`` as the next version of ``project/key``; (version, whether it is new)."""
    check_key(key)
    source = Path(source)
    is_dir = source.is_dir()
    if is_dir:
        digest, size, manifest = hash_dir(source)
        meta = {**(meta or {}), "files": len(manifest)}
    else:
        digest, size = hash_file(source)
    ext = file_ext(source, is_dir)
    store = ArtifactStore(store_root(settings))
    default_base = store.url(store.project_dir(project))
    if artifact_path and artifact_path.rstrip("/") != default_base.rstrip("/"):
        target = ArtifactStore(artifact_path)
        blob = target.blob_path(target.join(encode_name(key)), digest, ext)
        place = {"url": target.url(blob)}
    else:
        target = store
        blob = store.blob_path(store.key_dir(project, key), digest, ext)
        place = {"blob": f"{encode_name(key)}/{digest[:2]}/{digest}{ext}"}
    with store.lock(project, key):
        for _attempt in range(MAX_NUMBER_RETRIES):
            # Store first, even when the content turns out unchanged: this also restores a blob
            # that was moved out of the store (logging a file got from local_path(), say).
            target.put_blob(source, blob, is_dir)
            # A damaged record (empty or cut short) is set aside, its number never reused.
            latest, highest = store.latest_version(project, key, set_aside=[])
            if latest is not None and latest["hash"] == digest and bool(latest.get("is_dir")) == is_dir:
                return _index(settings, catalog, latest), False
            number = highest + 1
            record = {
                "schema": VERSION_SCHEMA, "schema_version": VERSION_SCHEMA_VERSION,
                "project": project, "key": key, "kind": kind, "number": number,
                "uid": make_uid(project, key, digest, number), "hash": digest,
                "hash_algorithm": "sha256", "size": size, "is_dir": is_dir, "ext": ext,
                "format": format or ("dir" if is_dir else ext.rsplit(".", 1)[-1] or None),
                **place,
                "labels": dict(labels or {}), "summary": dict(summary or {}), "meta": dict(meta or {}),
                "producer": producer or default_producer(), "sources": list(sources or []),
                "links": dict(links or {}), "description": description,
                "created_at": utc_now_iso(),
            }
            if target.local and not is_dir:
                from labbook.store.blobs import blob_fingerprint

                record["blob_stat"] = blob_fingerprint(blob)
            if store.write_version(record):
                return _index(settings, catalog, record), True
    raise RunStateError(  # pragma: no cover - needs 20 concurrent writers on one key
        f"Could not number a new version of {project}/{key}: other writers kept taking the next "
        "number. Try again."
    )


def _index(settings: Any, catalog: Any, record: dict[str, Any]) -> ArtifactVersion:
    """Index the record (the store already holds it; a failure here is repaired on read)."""
    from labbook.catalog.artifacts import index_versions, tags_of

    index_versions(catalog, [record])
    return ArtifactVersion(record, tags_of(catalog, [record["uid"]])[record["uid"]], settings=settings)
