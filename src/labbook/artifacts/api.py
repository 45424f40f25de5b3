"""The artifact read and housekeeping API: ``Artifacts``, over one settings, catalog and store.

A ``labbook.Workspace`` owns one (``workspace.get_artifact(...)``); a run's artifact methods
make one over the run's settings and catalog. The module functions (``labbook.get_artifact``
and the rest, in ``labbook.workspace``) are shells over a workspace::

    import labbook

    v = labbook.get_artifact("store://datasets/churn/train")        # latest
    v1 = labbook.get_artifact("store://datasets/churn/train:v1")
    labbook.tag_artifact(v.uri, "prod")
    rows = labbook.list_artifacts("churn", kind="dataset", labels={"split": "train"})
    graph = labbook.get_lineage("store://models/churn/clf", direction="up")
"""

from __future__ import annotations

import difflib
from datetime import datetime
from pathlib import Path
from typing import Any

from labbook._time import utc_now_iso
from labbook.artifacts.version import ArtifactVersion
from labbook.catalog import artifacts as queries
from labbook.config import Settings
from labbook.errors import InvalidValueError, NotFoundError
from labbook.store.blobs import ArtifactStore
from labbook.store.kinds import PREFIX_KINDS, kind_value, prefix_for
from labbook.store.policy import check_template, store_root
from labbook.store.uri import StoreUri, check_tag, parse_store_uri


class Artifacts:
    """The artifact API over ``settings``, an open ``catalog`` and the artifact ``store``
    (default: the settings' store root). It opens and closes nothing: its owner does."""

    def __init__(self, settings: Settings, catalog: Any, store: ArtifactStore | None = None) -> None:
        self.settings = settings
        self.catalog = catalog
        self.store = store or ArtifactStore(store_root(settings))

    def version(self, record: dict[str, Any]) -> ArtifactVersion:
        tags = queries.tags_of(self.catalog, [record["uid"]])[record["uid"]]
        return ArtifactVersion(record, tags, settings=self.settings, store=self.store)

    def resolve(self, uri: str | StoreUri) -> ArtifactVersion:
        return resolve(self, uri)

    get = resolve

    def list(self, *args: Any, **kwargs: Any) -> list[ArtifactVersion]:
        return list_artifacts(self, *args, **kwargs)

    def tag(self, uri: str, tag: str) -> ArtifactVersion:
        return tag_artifact(self, uri, tag)

    def untag(self, uri: str, tag: str) -> None:
        untag_artifact(self, uri, tag)

    def delete(self, uri: str, *, all_versions: bool = False, data: bool = False) -> list[ArtifactVersion]:
        return delete_artifact(self, uri, all_versions=all_versions, data=data)

    def gc(self, project: str | None = None, *, dry_run: bool = False) -> dict[str, int]:
        return gc(self, project, dry_run=dry_run)

    def lineage(self, uri_or_run: Any, direction: str = "both", depth: int | None = None):
        from labbook.artifacts.graph import build_lineage

        return build_lineage(self, uri_or_run, direction, depth)

    def set_project_artifact_path(self, project: str, artifact_path: str | None) -> None:
        set_project_artifact_path(self, project, artifact_path)

    def project_settings(self, project: str) -> dict[str, Any]:
        return queries.project_settings(self.catalog, project)


def _find(ctx: Artifacts, ref: StoreUri) -> dict[str, Any] | None:
    tag = None if ref.tag in (None, "latest") or ref.version_number is not None else ref.tag
    return queries.find_version(ctx.catalog, ref.project, ref.key, number=ref.version_number,
                                tag=tag, uid=ref.uid)


def _not_found(ctx: Artifacts, ref: StoreUri) -> NotFoundError:
    versions = queries.search_versions(ctx.catalog, ref.project, key=ref.key, limit=None)
    if not versions:
        keys = sorted({r["key"] for r in queries.search_versions(ctx.catalog, ref.project, limit=2000)})
        close = difflib.get_close_matches(ref.key, keys, n=3)
        hint = f" Did you mean {', '.join(repr(k) for k in close)}?" if close else ""
        return NotFoundError(
            f"No artifact {ref.key!r} in project {ref.project!r} (from {str(ref)!r}).{hint} "
            f"List them with 'labbook artifacts ls {ref.project}'."
        )
    numbers = ", ".join(f"v{r['number']}" for r in sorted(versions, key=lambda r: r["number"]))
    if ref.uid:
        what = f"no version with uid {ref.uid!r}" + (f" tagged {ref.tag!r}" if ref.tag else "")
    elif ref.version_number is not None:
        what = f"no version {ref.tag}"
    else:
        tags = queries.tags_of(ctx.catalog, [r["uid"] for r in versions])
        names = sorted({t for ts in tags.values() for t in ts})
        what = f"no tag {ref.tag!r} (its tags: {', '.join(names)})"
    return NotFoundError(f"Artifact {ref.project}/{ref.key} has {what}; its versions: {numbers}.")


def _from_store(ctx: Artifacts, ref: StoreUri) -> tuple[dict[str, Any], list[str], dict[str, Any]] | None:
    """(record, tags, newest record) from the artifact store itself, for a version the catalog
    missed (a writer stopped between the store and the catalog). The store is the record, so a
    read finds it there; it never writes to the catalog ('labbook index' repairs the index)."""
    records = list(ctx.store.iter_versions(ref.project, ref.key))
    if not records:
        return None
    moves: dict[str, str | None] = {}
    for event in ctx.store.tag_events(ref.project, ref.key):
        moves[event["tag"]] = event.get("uid") if event.get("op") == "add" else None
    newest = max(records, key=lambda r: r["number"])
    tag = None if ref.tag in (None, "latest") or ref.version_number is not None else ref.tag
    found = [r for r in records
             if (ref.uid is None or r["uid"].startswith(ref.uid))
             and (ref.version_number is None or r["number"] == ref.version_number)
             and (tag is None or moves.get(tag) == r["uid"])]
    if len(found) > 1 and ref.uid is not None:
        raise NotFoundError(f"Version uid prefix {ref.uid!r} of {ref.project}/{ref.key} matches several "
                            "versions; give more digits.")
    if not found:
        return None
    record = max(found, key=lambda r: r["number"])
    tags = (["latest"] if record is newest else []) + sorted(t for t, uid in moves.items() if uid == record["uid"])
    return record, tags, newest


def resolve(ctx: Artifacts, uri: str | StoreUri) -> ArtifactVersion:
    ref = uri if isinstance(uri, StoreUri) else parse_store_uri(uri)
    record = _find(ctx, ref)
    tags: list[str] | None = None
    newest: dict[str, Any] | None = None
    if record is None:
        stored = _from_store(ctx, ref)
        if stored is None:
            raise _not_found(ctx, ref)
        record, tags, newest = stored
    if ref.uid and ref.tag == "latest":
        newest = newest or queries.find_version(ctx.catalog, ref.project, ref.key)
        if newest is None or newest["uid"] != record["uid"]:
            raise NotFoundError(f"{str(ref)!r}: version {record['uid'][:12]} (v{record['number']}) is not "
                                f"the latest of {ref.project}/{ref.key}; drop ':latest' to pin it.")
    kinds = PREFIX_KINDS.get(ref.prefix)
    if kinds is not None and record["kind"] not in kinds:
        right = StoreUri(prefix_for(record["kind"]), ref.project, ref.key, ref.tag, ref.uid)
        raise NotFoundError(f"{str(ref)!r} names a {record['kind']} artifact, not one of "
                            f"{ref.prefix}. Use {str(right)!r}.")
    if tags is not None:
        return ArtifactVersion(record, tags, settings=ctx.settings, store=ctx.store)
    return ctx.version(record)


def _kinds(kind: Any) -> list[str] | None:
    if kind is None:
        return None
    values = [kind] if isinstance(kind, (str, bytes)) or not hasattr(kind, "__iter__") else list(kind)
    kinds: list[str] = []
    for value in values:
        text = str(getattr(value, "value", value))
        kinds += sorted(PREFIX_KINDS[text]) if text in PREFIX_KINDS else [kind_value(text)]
    return kinds


def _labels(labels: Any) -> dict[str, Any] | None:
    if labels is None or isinstance(labels, dict):
        return labels
    items = [labels] if isinstance(labels, str) else list(labels)
    parsed: dict[str, Any] = {}
    for item in items:
        for part in str(item).split(","):
            if part.strip():
                name, _, value = part.partition("=")
                parsed[name.strip()] = value.strip() if _ else None
    return parsed


def list_artifacts(
    ctx: Artifacts,
    project: str | None = None,
    kind: Any = None,
    key: str | None = None,
    labels: Any = None,
    tag: str | None = None,
    producer: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    *,
    latest_only: bool = False,
    limit: int | None = 100,
    offset: int = 0,
    after: ArtifactVersion | tuple | None = None,
) -> list[ArtifactVersion]:
    """Versions matching every filter given, newest first, one page (``limit``/``offset``).

    ``kind`` is a kind or a store prefix (``"datasets"``); ``key`` is exact, or a substring
    with a leading ``~``; ``labels`` is a dict or ``"k=v,k2"`` (ANDed; a bare name needs the
    label to exist); ``producer`` is a run uuid (or prefix); ``tag="latest"`` or
    ``latest_only=True`` keeps each key's newest version. ``after`` (the last version of a page,
    or its ``(created_at, version, uid)``) starts the next page right after it, however deep.
    """
    if tag is not None and tag != "latest":
        check_tag(tag)
    records = queries.search_versions(
        ctx.catalog, project, kinds=_kinds(kind), key=key, labels=_labels(labels), tag=tag,
        producer=producer, since=since, until=until, latest_only=latest_only, limit=limit, offset=offset,
        after=after if after is None or isinstance(after, tuple) else (after.created_at, after.version, after.uid),
    )
    tags = queries.tags_of(ctx.catalog, [r["uid"] for r in records])
    return [ArtifactVersion(r, tags[r["uid"]], settings=ctx.settings, store=ctx.store) for r in records]


def tag_artifact(ctx: Artifacts, uri: str, tag: str) -> ArtifactVersion:
    """Point user tag ``tag`` at the version ``uri`` names (moving it off another version)."""
    check_tag(tag)
    version = resolve(ctx, uri)
    ctx.store.append_tag_event(version.project, version.key,
                               {"op": "add", "tag": tag, "uid": version.uid, "time": utc_now_iso()})
    queries.set_tag(ctx.catalog, version.project, version.key, tag, version.uid)
    return ctx.version(version.record)


def untag_artifact(ctx: Artifacts, uri: str, tag: str) -> None:
    """Remove user tag ``tag`` from the artifact ``uri`` names."""
    check_tag(tag)
    ref = parse_store_uri(uri)
    found = queries.find_version(ctx.catalog, ref.project, ref.key, tag=tag)
    if found is None:
        raise NotFoundError(f"Artifact {ref.project}/{ref.key} has no tag {tag!r}; nothing to remove.")
    ctx.store.append_tag_event(ref.project, ref.key, {"op": "remove", "tag": tag, "time": utc_now_iso()})
    queries.set_tag(ctx.catalog, ref.project, ref.key, tag, None)


def delete_artifact(ctx: Artifacts, uri: str, *, all_versions: bool = False,
                    data: bool = False) -> list[ArtifactVersion]:
    """Delete the version ``uri`` names (or every version of its key with ``all_versions``).

    Metadata only by default; ``data=True`` also removes bytes no remaining version uses.
    Numbers of deleted versions are never reused.
    """
    ref = parse_store_uri(uri)
    if all_versions:
        if ref.tag or ref.uid:
            raise InvalidValueError(f"all_versions deletes a whole key; pass {str(StoreUri(ref.prefix, ref.project, ref.key))!r} without a tag or uid.")
        queries.reindex_key(ctx.catalog, ctx.store, ref.project, ref.key)
        records = queries.search_versions(ctx.catalog, ref.project, key=ref.key, limit=None)
        if not records:
            raise _not_found(ctx, ref)
    else:
        records = [resolve(ctx, ref).record]
    deleted = [ctx.version(r) for r in records]
    for record in records:
        ctx.store.mark_deleted(record["project"], record["key"], record["number"], record["uid"])
    queries.delete_versions(ctx.catalog, [r["uid"] for r in records])
    if data:
        remaining = {r["hash"] for r in ctx.store.iter_versions(ref.project, ref.key)}
        for record in records:
            if record["hash"] not in remaining:
                _remove_bytes(ctx, record)
    return deleted


def _remove_bytes(ctx: Artifacts, record: dict[str, Any]) -> None:
    if record.get("url"):
        other = ArtifactStore(record["url"])
        other.remove(other.base)
    else:
        ctx.store.remove(f"{ctx.store.project_dir(record['project'])}/{record['blob']}")


def gc(ctx: Artifacts, project: str | None = None, *, dry_run: bool = False) -> dict[str, int]:
    """Remove stored bytes that no version references (under the artifact store)."""
    removed = size = 0
    projects = [project] if project else ctx.store.projects()
    for name in projects:
        for key in ctx.store.key_dirs(name):
            keep = {r["hash"] for r in ctx.store.iter_versions(name, key)}
            for blob in ctx.store.blob_dirs(name, key):
                digest = blob.rsplit("/", 1)[-1][:64]
                if digest in keep:
                    continue
                size += _size(ctx.store, blob)
                removed += 1
                if not dry_run:
                    ctx.store.remove(blob)
    return {"removed": removed, "bytes": size}


def _size(store: ArtifactStore, path: str) -> int:
    if store.local:
        target = Path(path)
        if target.is_dir():
            return sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
        return target.stat().st_size
    return int(store.fs.du(path)) if store.fs.isdir(path) else int(store.fs.size(path))


def set_project_artifact_path(ctx: Artifacts, project: str, artifact_path: str | None) -> None:
    """Set (or clear, with None) the project's artifact path, used when a log call and its
    run do not set one. It may hold ``{{project}}``, ``{{run.uid}}`` and ``{{run.name}}``."""
    check_template(artifact_path, f"The artifact path of project {project!r}")
    queries.set_project_setting(ctx.catalog, project, "artifact_path", artifact_path)

