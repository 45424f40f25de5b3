"""The artifact read and housekeeping API.

::

    import labbook

    v = labbook.get_artifact("store://datasets/churn/train")        # latest
    v1 = labbook.get_artifact("store://datasets/churn/train:v1")
    labbook.tag_artifact(v.uri, "prod")
    rows = labbook.list_artifacts("churn", kind="dataset", labels={"split": "train"})
    graph = labbook.get_lineage("store://models/churn/clf", direction="up")
"""

from __future__ import annotations

import difflib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from labbook.artifacts import catalog as queries
from labbook.artifacts.kinds import PREFIX_KINDS, kind_value, prefix_for
from labbook.artifacts.paths import store_root
from labbook.artifacts.registry import ArtifactStore
from labbook.artifacts.uri import StoreUri, check_tag, parse_store_uri
from labbook.artifacts.version import ArtifactVersion
from labbook.config import Settings
from labbook.errors import InvalidValueError, NotFoundError


class _Context:
    """Settings, catalog and store for one call."""

    def __init__(self, home: str | Path | None = None, settings: Settings | None = None,
                 catalog: Any = None, *, create: bool = False) -> None:
        from labbook.catalog.indexer import open_catalog

        if settings is None:  # a read (or a change to what is there) never creates a home
            settings = Settings.load({}, home=home)
            if not create:
                settings.require_home()
        self.settings = settings
        self.catalog = catalog or open_catalog(self.settings.catalog_url)
        self.store = ArtifactStore(store_root(self.settings))

    def version(self, record: dict[str, Any]) -> ArtifactVersion:
        tags = queries.tags_of(self.catalog, [record["uid"]])[record["uid"]]
        return ArtifactVersion(record, tags, settings=self.settings)


def reindex_key(ctx: _Context, project: str, key: str, set_aside: list[str] | None = None) -> int:
    """Index one key's versions and tags from the store (repairs a catalog that missed them).
    With ``set_aside`` (a list), damaged records are set aside and their new locations added."""
    records = list(ctx.store.iter_versions(project, key, set_aside))
    added = queries.index_versions(ctx.catalog, records)
    live = {r["uid"] for r in records}
    state: dict[str, str | None] = {}
    for event in ctx.store.tag_events(project, key, set_aside):
        state[event["tag"]] = event.get("uid") if event.get("op") == "add" else None
    for tag, uid in state.items():
        queries.set_tag(ctx.catalog, project, key, tag, uid if uid in live else None)
    return added


def _find(ctx: _Context, ref: StoreUri) -> dict[str, Any] | None:
    tag = None if ref.tag in (None, "latest") or ref.version_number is not None else ref.tag
    return queries.find_version(ctx.catalog, ref.project, ref.key, number=ref.version_number,
                                tag=tag, uid=ref.uid)


def _not_found(ctx: _Context, ref: StoreUri) -> NotFoundError:
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


def resolve(ctx: _Context, uri: str | StoreUri) -> ArtifactVersion:
    ref = uri if isinstance(uri, StoreUri) else parse_store_uri(uri)
    record = _find(ctx, ref)
    if record is None and reindex_key(ctx, ref.project, ref.key):
        record = _find(ctx, ref)
    if record is None:
        raise _not_found(ctx, ref)
    if ref.uid and ref.tag == "latest":
        newest = queries.find_version(ctx.catalog, ref.project, ref.key)
        if newest is None or newest["uid"] != record["uid"]:
            raise NotFoundError(f"{str(ref)!r}: version {record['uid'][:12]} (v{record['number']}) is not "
                                f"the latest of {ref.project}/{ref.key}; drop ':latest' to pin it.")
    kinds = PREFIX_KINDS.get(ref.prefix)
    if kinds is not None and record["kind"] not in kinds:
        right = StoreUri(prefix_for(record["kind"]), ref.project, ref.key, ref.tag, ref.uid)
        raise NotFoundError(f"{str(ref)!r} names a {record['kind']} artifact, not one of "
                            f"{ref.prefix}. Use {str(right)!r}.")
    return ctx.version(record)


def get_artifact(uri: str, *, home: str | Path | None = None) -> ArtifactVersion:
    """The version ``uri`` names: ``store://<kind>/<project>/<key>[:tag][@uid]``."""
    return resolve(_Context(home), uri)


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
    home: str | Path | None = None,
) -> list[ArtifactVersion]:
    """Versions matching every filter given, newest first, one page (``limit``/``offset``).

    ``kind`` is a kind or a store prefix (``"datasets"``); ``key`` is exact, or a substring
    with a leading ``~``; ``labels`` is a dict or ``"k=v,k2"`` (ANDed; a bare name needs the
    label to exist); ``producer`` is a run uuid (or prefix); ``tag="latest"`` or
    ``latest_only=True`` keeps each key's newest version. ``after`` (the last version of a page,
    or its ``(created_at, version, uid)``) starts the next page right after it, however deep.
    """
    ctx = _Context(home)
    if tag is not None and tag != "latest":
        check_tag(tag)
    records = queries.search_versions(
        ctx.catalog, project, kinds=_kinds(kind), key=key, labels=_labels(labels), tag=tag,
        producer=producer, since=since, until=until, latest_only=latest_only, limit=limit, offset=offset,
        after=after if after is None or isinstance(after, tuple) else (after.created_at, after.version, after.uid),
    )
    tags = queries.tags_of(ctx.catalog, [r["uid"] for r in records])
    return [ArtifactVersion(r, tags[r["uid"]], settings=ctx.settings) for r in records]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def tag_artifact(uri: str, tag: str, *, home: str | Path | None = None) -> ArtifactVersion:
    """Point user tag ``tag`` at the version ``uri`` names (moving it off another version)."""
    check_tag(tag)
    ctx = _Context(home)
    version = resolve(ctx, uri)
    ctx.store.append_tag_event(version.project, version.key,
                               {"op": "add", "tag": tag, "uid": version.uid, "time": _now()})
    queries.set_tag(ctx.catalog, version.project, version.key, tag, version.uid)
    return ctx.version(version.record)


def untag_artifact(uri: str, tag: str, *, home: str | Path | None = None) -> None:
    """Remove user tag ``tag`` from the artifact ``uri`` names."""
    check_tag(tag)
    ctx = _Context(home)
    ref = parse_store_uri(uri)
    found = queries.find_version(ctx.catalog, ref.project, ref.key, tag=tag)
    if found is None:
        raise NotFoundError(f"Artifact {ref.project}/{ref.key} has no tag {tag!r}; nothing to remove.")
    ctx.store.append_tag_event(ref.project, ref.key, {"op": "remove", "tag": tag, "time": _now()})
    queries.set_tag(ctx.catalog, ref.project, ref.key, tag, None)


def delete_artifact(uri: str, *, all_versions: bool = False, data: bool = False,
                    home: str | Path | None = None) -> list[ArtifactVersion]:
    """Delete the version ``uri`` names (or every version of its key with ``all_versions``).

    Metadata only by default; ``data=True`` also removes bytes no remaining version uses.
    Numbers of deleted versions are never reused.
    """
    ctx = _Context(home)
    ref = parse_store_uri(uri)
    if all_versions:
        if ref.tag or ref.uid:
            raise InvalidValueError(f"all_versions deletes a whole key; pass {str(StoreUri(ref.prefix, ref.project, ref.key))!r} without a tag or uid.")
        reindex_key(ctx, ref.project, ref.key)
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


def _remove_bytes(ctx: _Context, record: dict[str, Any]) -> None:
    if record.get("url"):
        other = ArtifactStore(record["url"])
        other.remove(other.base)
    else:
        ctx.store.remove(f"{ctx.store.project_dir(record['project'])}/{record['blob']}")


def gc(project: str | None = None, *, dry_run: bool = False,
       home: str | Path | None = None) -> dict[str, int]:
    """Remove stored bytes that no version references (under the artifact store)."""
    ctx = _Context(home)
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


def set_project_artifact_path(project: str, artifact_path: str | None, *,
                              home: str | Path | None = None) -> None:
    """Set (or clear, with None) the project's artifact path, used when a log call and its
    run do not set one. It may hold ``{{project}}``, ``{{run.uid}}`` and ``{{run.name}}``."""
    import sqlalchemy as sa

    from labbook.artifacts.paths import check_template
    from labbook.catalog import schema

    check_template(artifact_path, f"The artifact path of project {project!r}")
    ctx = _Context(home, create=True)  # project settings may come before the first run
    with ctx.catalog.engine.begin() as conn:
        ctx.catalog.ensure_project(conn, project)
        current = conn.execute(sa.select(schema.projects.c.settings)
                               .where(schema.projects.c.name == project)).scalar() or {}
        current = {**current, "artifact_path": artifact_path}
        conn.execute(schema.projects.update().where(schema.projects.c.name == project)
                     .values(settings=current))


def project_settings(catalog: Any, project: str) -> dict[str, Any]:
    import sqlalchemy as sa

    from labbook.catalog import schema

    with catalog.engine.connect() as conn:
        return conn.execute(sa.select(schema.projects.c.settings)
                            .where(schema.projects.c.name == project)).scalar() or {}


def get_lineage(uri_or_run: Any, direction: str = "both", depth: int | None = None, *,
                home: str | Path | None = None):
    """The lineage graph around an artifact version (a store URI) or a run (uuid or object).

    ``direction``: ``"up"`` (what produced it and what that was made from), ``"down"`` (what
    consumed it, and onwards) or ``"both"``; ``depth`` limits the hops (None: no limit).
    """
    from labbook.artifacts.graph import build_lineage

    return build_lineage(_Context(home), uri_or_run, direction, depth)


def reindex_artifacts(catalog: Any, artifacts_root: Path, settings: Settings | None = None) -> dict[str, Any]:
    """Rebuild the artifact tables from the artifact store(s) and every run's lineage.jsonl.

    Returns counts of ``versions`` and ``lineage`` records, and ``damaged``: the location of
    every record found set aside as damaged (now, or earlier by a writer), for a person to see.
    """
    from labbook.artifacts.lineage import read_lineage
    from labbook.catalog.indexer import iter_run_folders
    from labbook.store.layout import RunFolder

    settings = settings or Settings.load({})
    queries.clear_artifact_tables(catalog)
    ctx = _Context(settings=settings, catalog=catalog)
    versions, damaged = 0, []
    for root in dict.fromkeys([store_root(settings), str(artifacts_root)]):
        ctx.store = ArtifactStore(root)
        for project in ctx.store.projects():
            for key in ctx.store.key_dirs(project):  # keys are safe names: the folder is the key
                with ctx.store.lock(project, key):
                    versions += reindex_key(ctx, project, key, set_aside=[])
                damaged += ctx.store.damaged_records(project, key)
    edges = 0
    for folder in iter_run_folders(Path(artifacts_root)):
        rows = [queries.lineage_row(folder.parent.name, folder.name, r)
                for r in read_lineage(RunFolder(folder).lineage_file) if r.get("id")]
        queries.index_lineage(catalog, rows)
        edges += len(rows)
    return {"versions": versions, "lineage": edges, "damaged": damaged}
