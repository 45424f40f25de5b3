"""Artifact queries on the catalog: versions, labels, tags, links, lineage edges and the
projects' artifact settings. Every artifact SQL statement lives here.

The catalog is an index of the artifact store and of the runs' ``lineage.jsonl`` files;
``reindex_artifacts`` rebuilds every row here from them (``labbook index --rebuild``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

import sqlalchemy as sa

from labbook.catalog import schema
from labbook.catalog.catalog import Catalog, _chunks, _utc
from labbook.config import Settings

V = schema.artifact_versions
T = schema.artifact_tags
L = schema.artifact_labels
LINKS = schema.artifact_links
E = schema.lineage


def _label_rows(uid: str, labels: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"uid": uid, "name": str(k), "value": None if v is None else str(v)} for k, v in labels.items()]


def version_row(record: dict[str, Any]) -> dict[str, Any]:
    producer = record.get("producer") or {}
    return {
        "uid": record["uid"], "project": record["project"], "key": record["key"],
        "number": record["number"], "kind": record["kind"], "hash": record["hash"],
        "size": record["size"], "is_dir": bool(record.get("is_dir")), "format": record.get("format"),
        "producer_run": producer.get("run"), "created_at": _utc(record["created_at"]), "record": record,
    }


def link_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Edges from ``sources`` (source -> this) and ``links`` (this -> linked) of a version."""
    from labbook.store.uri import is_store_uri, parse_store_uri

    rows = []
    for index, source in enumerate(record.get("sources") or []):
        uri = source.get("uri") if isinstance(source, dict) else source
        if isinstance(uri, str) and is_store_uri(uri) and parse_store_uri(uri).uid:
            rows.append({"from_uid": parse_store_uri(uri).uid, "relation": "source",
                         "name": f"{record['uid']}:{index}", "to_uid": record["uid"]})
    for name, uri in (record.get("links") or {}).items():
        if is_store_uri(uri) and parse_store_uri(uri).uid:
            rows.append({"from_uid": record["uid"], "relation": "link", "name": str(name)[:255],
                         "to_uid": parse_store_uri(uri).uid})
    return rows


def index_versions(catalog: Catalog, records: Iterable[dict[str, Any]]) -> int:
    """Insert version records (ones already indexed are skipped) and refresh their artifacts."""
    records = list(records)
    if not records:
        return 0
    with catalog.engine.begin() as conn:
        known = set()
        for chunk in _chunks([r["uid"] for r in records], 500):
            known |= set(conn.execute(sa.select(V.c.uid).where(V.c.uid.in_(chunk))).scalars())
        fresh = [r for r in records if r["uid"] not in known]
        fresh = list({r["uid"]: r for r in fresh}.values())
        if fresh:
            conn.execute(V.insert(), [version_row(r) for r in fresh])
            labels = [row for r in fresh for row in _label_rows(r["uid"], r.get("labels") or {})]
            if labels:
                conn.execute(L.insert(), labels)
            links = {(x["from_uid"], x["relation"], x["name"]): x for r in fresh for x in link_rows(r)}
            if links:
                conn.execute(LINKS.delete().where(sa.tuple_(LINKS.c.from_uid, LINKS.c.relation, LINKS.c.name)
                                                  .in_(list(links))))
                conn.execute(LINKS.insert(), list(links.values()))
        for project, key in {(r["project"], r["key"]) for r in records}:
            _refresh_artifact(conn, project, key)
    return len(fresh)


def _refresh_artifact(conn: sa.Connection, project: str, key: str) -> None:
    A = schema.artifacts
    latest = conn.execute(
        sa.select(V.c.number, V.c.kind, V.c.created_at).where(V.c.project == project, V.c.key == key)
        .order_by(V.c.number.desc()).limit(1)
    ).first()
    conn.execute(A.delete().where(A.c.project == project, A.c.key == key))
    if latest is not None:
        conn.execute(A.insert().values(project=project, key=key, kind=latest.kind,
                                       latest_number=latest.number, updated_at=latest.created_at))


def set_tag(catalog: Catalog, project: str, key: str, tag: str, uid: str | None) -> None:
    """Point ``tag`` at ``uid`` (moving it off any other version), or remove it when uid is None."""
    with catalog.engine.begin() as conn:
        conn.execute(T.delete().where(T.c.project == project, T.c.key == key, T.c.tag == tag))
        if uid is not None:
            conn.execute(T.insert().values(project=project, key=key, tag=tag, uid=uid))


def delete_versions(catalog: Catalog, uids: list[str]) -> None:
    with catalog.engine.begin() as conn:
        pairs = set(conn.execute(sa.select(V.c.project, V.c.key).where(V.c.uid.in_(uids))).all())
        for table, column in ((T, T.c.uid), (L, L.c.uid), (LINKS, LINKS.c.from_uid), (LINKS, LINKS.c.to_uid)):
            conn.execute(table.delete().where(column.in_(uids)))
        conn.execute(V.delete().where(V.c.uid.in_(uids)))
        for project, key in pairs:
            _refresh_artifact(conn, project, key)


def find_version(catalog: Catalog, project: str, key: str, *, number: int | None = None,
                 tag: str | None = None, uid: str | None = None) -> dict[str, Any] | None:
    """One version's record: by uid (or unique prefix), number, user tag, or the latest."""
    select = sa.select(V.c.record).where(V.c.project == project, V.c.key == key)
    if uid is not None:
        select = select.where(V.c.uid.startswith(uid, autoescape=True))
    if number is not None:
        select = select.where(V.c.number == number)
    if tag is not None and tag != "latest":
        select = select.join(T, sa.and_(T.c.uid == V.c.uid, T.c.tag == tag))
    select = select.order_by(V.c.number.desc()).limit(2 if uid is not None else 1)
    with catalog.engine.connect() as conn:
        rows = conn.execute(select).scalars().all()
    if uid is not None and len(rows) > 1:
        from labbook.errors import NotFoundError

        raise NotFoundError(f"Version uid prefix {uid!r} of {project}/{key} matches several versions; "
                            "give more digits.")
    return rows[0] if rows else None


def tags_of(catalog: Catalog, uids: list[str]) -> dict[str, list[str]]:
    """User tags per uid, plus ``latest`` on each key's newest version."""
    found: dict[str, list[str]] = {u: [] for u in uids}
    with catalog.engine.connect() as conn:
        for chunk in _chunks(uids, 500):
            for uid, tag in conn.execute(sa.select(T.c.uid, T.c.tag).where(T.c.uid.in_(chunk)).order_by(T.c.tag)):
                found[uid].append(tag)
            A = schema.artifacts
            latest = conn.execute(
                sa.select(V.c.uid).join(A, sa.and_(A.c.project == V.c.project, A.c.key == V.c.key,
                                                   A.c.latest_number == V.c.number))
                .where(V.c.uid.in_(chunk))
            ).scalars()
            for uid in latest:
                found[uid].insert(0, "latest")
    return found


def search_versions(
    catalog: Catalog,
    project: str | None = None,
    *,
    kinds: Iterable[str] | None = None,
    key: str | None = None,
    labels: dict[str, Any] | None = None,
    tag: str | None = None,
    producer: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    latest_only: bool = False,
    limit: int | None = 100,
    offset: int = 0,
    after: tuple[Any, int, str] | None = None,
) -> list[dict[str, Any]]:
    """Version records, newest first. ``key`` is exact, or a substring when it starts with ``~``.
    ``labels`` are ANDed; a value of None only requires the label to exist. ``after`` (a
    version's created_at, number and uid) starts the page after that version (keyset paging)."""
    # Filter, sort and page on narrow columns first; load the JSON records of one page only.
    select = sa.select(V.c.uid)
    if project is not None:
        select = select.where(V.c.project == project)
    if kinds:
        select = select.where(V.c.kind.in_(list(kinds)))
    if key:
        if key.startswith("~"):
            select = select.where(V.c.key.contains(key[1:], autoescape=True))
        else:
            select = select.where(V.c.key == key)
    for index, (name, value) in enumerate((labels or {}).items()):
        alias = L.alias(f"label_{index}")
        condition = sa.and_(alias.c.uid == V.c.uid, alias.c.name == str(name))
        if value is not None:
            condition = sa.and_(condition, alias.c.value == str(value))
        select = select.where(sa.exists().where(condition))
    A = schema.artifacts
    if tag == "latest" or latest_only:
        select = select.join(A, sa.and_(A.c.project == V.c.project, A.c.key == V.c.key,
                                        A.c.latest_number == V.c.number))
    elif tag:
        select = select.join(T, sa.and_(T.c.uid == V.c.uid, T.c.tag == tag))
    if producer:
        select = select.where(V.c.producer_run.startswith(producer.replace("-", "").lower(), autoescape=True))
    if since is not None:
        select = select.where(V.c.created_at >= _utc(since))
    if until is not None:
        select = select.where(V.c.created_at <= _utc(until))
    if after is not None:
        created, number, uid = _utc(after[0]), after[1], after[2]
        select = select.where(sa.or_(
            V.c.created_at < created,
            sa.and_(V.c.created_at == created,
                    sa.or_(V.c.number < number, sa.and_(V.c.number == number, V.c.uid < uid)))))
    select = select.order_by(V.c.created_at.desc(), V.c.number.desc(), V.c.uid.desc())
    if limit is not None:
        select = select.limit(limit)
    if offset:
        select = select.offset(offset)
    with catalog.engine.connect() as conn:
        uids = list(conn.execute(select).scalars())
    records = records_by_uid(catalog, uids)
    return [records[uid] for uid in uids if uid in records]


# -- lineage edges ---------------------------------------------------------------------------


def lineage_row(project: str, run_uuid: str, record: dict[str, Any]) -> dict[str, Any]:
    return {"id": record["id"], "project": project, "run_uuid": run_uuid,
            "is_input": bool(record.get("is_input")), "name": str(record.get("name")),
            "kind": str(record.get("kind") or "artifact"), "path": record.get("path"),
            "uid": record.get("uid"), "created_at": _utc(record.get("time"))}


def index_lineage(catalog: Catalog, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    with catalog.engine.begin() as conn:
        known = set()
        for chunk in _chunks([r["id"] for r in rows], 500):
            known |= set(conn.execute(sa.select(E.c.id).where(E.c.id.in_(chunk))).scalars())
        fresh = list({r["id"]: r for r in rows if r["id"] not in known}.values())
        if fresh:
            conn.execute(E.insert(), fresh)


def edges_of_runs(catalog: Catalog, run_uuids: list[str]) -> list[dict[str, Any]]:
    with catalog.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(E).where(E.c.run_uuid.in_(run_uuids)))]


def edges_of_artifacts(catalog: Catalog, uids: list[str], paths: list[str]) -> list[dict[str, Any]]:
    condition = sa.or_(E.c.uid.in_(uids), E.c.path.in_(paths)) if paths else E.c.uid.in_(uids)
    with catalog.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(E).where(condition))]


def refs_named(catalog: Catalog, idents: list[str]) -> dict[str, dict[str, Any]]:
    """For reference nodes (``ref:<path or name>``): the name and kind each was logged with, and
    the run that logged it last (its lineage.jsonl holds the summary)."""
    condition = sa.or_(E.c.path.in_(idents), sa.and_(E.c.path.is_(None), E.c.name.in_(idents)))
    with catalog.engine.connect() as conn:
        rows = conn.execute(sa.select(E.c.name, E.c.kind, E.c.path, E.c.run_uuid)
                            .where(E.c.uid.is_(None), condition).order_by(E.c.created_at))
        return {r.path or r.name: {"name": r.name, "kind": r.kind, "run": r.run_uuid} for r in rows}


def producers(catalog: Catalog, *, runs: list[str] | None = None,
              uids: list[str] | None = None) -> list[tuple[str, str]]:
    """(uid, producing run) pairs of versions made by ``runs`` or with ``uids``."""
    column = V.c.producer_run.in_(runs or []) if runs is not None else V.c.uid.in_(uids or [])
    with catalog.engine.connect() as conn:
        return [(u, r) for u, r in conn.execute(sa.select(V.c.uid, V.c.producer_run).where(column)) if r]


def links_of(catalog: Catalog, uids: list[str]) -> list[dict[str, Any]]:
    with catalog.engine.connect() as conn:
        select = sa.select(LINKS).where(sa.or_(LINKS.c.from_uid.in_(uids), LINKS.c.to_uid.in_(uids)))
        return [dict(r._mapping) for r in conn.execute(select)]


def records_by_uid(catalog: Catalog, uids: list[str]) -> dict[str, dict[str, Any]]:
    found = {}
    with catalog.engine.connect() as conn:
        for chunk in _chunks(uids, 500):
            for record in conn.execute(sa.select(V.c.record).where(V.c.uid.in_(chunk))).scalars():
                found[record["uid"]] = record
    return found


def clear_artifact_tables(catalog: Catalog) -> None:
    with catalog.engine.begin() as conn:
        for table in (E, LINKS, T, L, V, schema.artifacts):
            conn.execute(table.delete())


# -- rebuilding from the artifact store and the runs' lineage files ----------------------------


def reindex_key(catalog: Catalog, store: Any, project: str, key: str, set_aside: list[str] | None = None) -> int:
    """Index one key's versions and tags from the store (repairs a catalog that missed them).
    With ``set_aside`` (a list), damaged records are set aside and their new locations added."""
    records = list(store.iter_versions(project, key, set_aside))
    added = index_versions(catalog, records)
    live = {r["uid"] for r in records}
    state: dict[str, str | None] = {}
    for event in store.tag_events(project, key, set_aside):
        state[event["tag"]] = event.get("uid") if event.get("op") == "add" else None
    for tag, uid in state.items():
        set_tag(catalog, project, key, tag, uid if uid in live else None)
    return added


def reindex_artifacts(catalog: Catalog, artifacts_root: Path, settings: Settings | None) -> dict[str, Any]:
    """Rebuild the artifact tables from the artifact store(s) and every run's lineage.jsonl.

    Returns counts of ``versions`` and ``lineage`` records, and ``damaged``: the location of
    every record found set aside as damaged (now, or earlier by a writer), for a person to see.
    Without ``settings`` only the store under ``artifacts_root`` is read (not a configured
    ``artifact_store`` elsewhere).
    """
    from labbook.store.blobs import ArtifactStore
    from labbook.store.layout import RunFolder, RunStore
    from labbook.store.policy import store_root
    from labbook.store.record import read_lineage

    clear_artifact_tables(catalog)
    versions, damaged = 0, []
    roots = [str(artifacts_root)] if settings is None else [store_root(settings), str(artifacts_root)]
    for root in dict.fromkeys(roots):
        store = ArtifactStore(root)
        for project in store.projects():
            for key in store.key_dirs(project):  # keys are safe names: the folder is the key
                with store.lock(project, key):
                    versions += reindex_key(catalog, store, project, key, set_aside=[])
                damaged += store.damaged_records(project, key)
    edges = 0
    for folder in RunStore(artifacts_root).iter_runs():
        rows = [lineage_row(folder.parent.name, folder.name, r)
                for r in read_lineage(RunFolder(folder).lineage_file) if r.get("id")]
        index_lineage(catalog, rows)
        edges += len(rows)
    return {"versions": versions, "lineage": edges, "damaged": damaged}


# -- projects' artifact settings ------------------------------------------------------------------


def project_settings(catalog: Catalog, project: str) -> dict[str, Any]:
    """The project's settings row (``{"artifact_path": ...}``), empty when none were set."""
    with catalog.engine.connect() as conn:
        return conn.execute(sa.select(schema.projects.c.settings)
                            .where(schema.projects.c.name == project)).scalar() or {}


def set_project_setting(catalog: Catalog, project: str, name: str, value: Any) -> None:
    """Set one of the project's settings (the project row is made if it is new)."""
    with catalog.engine.begin() as conn:
        catalog.ensure_project(conn, project)
        current = conn.execute(sa.select(schema.projects.c.settings)
                               .where(schema.projects.c.name == project)).scalar() or {}
        conn.execute(schema.projects.update().where(schema.projects.c.name == project)
                     .values(settings={**current, name: value}))


def run_nodes(catalog: Catalog, uuids: list[str]) -> dict[str, Any]:
    """uuid -> (uuid, name, project, status) of the runs a lineage graph shows."""
    if not uuids:
        return {}
    R = schema.runs
    with catalog.engine.connect() as conn:
        return {r.uuid: r for r in conn.execute(
            sa.select(R.c.uuid, R.c.name, R.c.project, R.c.status).where(R.c.uuid.in_(uuids)))}
