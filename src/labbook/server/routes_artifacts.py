"""Artifact routes (list, versions, tag, untag, download, delete) and the lineage graph."""

from __future__ import annotations

import mimetypes
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from labbook.server import cursor, models, views
from labbook.server.auth import scope
from labbook.server.errors import ApiError
from labbook.server.routes_runs import SANDBOX, Data, Limit, Who

router = APIRouter(tags=["artifacts"])
Uri = Annotated[str, Query(min_length=1, max_length=2048, description="store://<kind>/<project>/<key>[:tag][@uid]")]
MAX_LINEAGE_NODES = 1000


def _out(data: Data, version: object, record: bool = False) -> models.ArtifactOut:
    out = views.artifact_model(version, data.artifact_readable(version))
    if record:
        out.record = version.record  # type: ignore[attr-defined]
    return out


@router.get("/artifacts", response_model=models.ArtifactPage, openapi_extra=scope("read"))
def list_artifacts(
    data: Data, who: Who,
    project: str | None = Query(None, max_length=255),
    kind: str | None = Query(None, max_length=64, description="A kind (model) or a store prefix (models)."),
    key: str | None = Query(None, max_length=255, description="The exact key."),
    q: str | None = Query(None, max_length=255, description="Text the key contains."),
    label: list[str] = Query([], max_length=50, description="k=v, or k for 'has label k'. Repeatable, ANDed."),
    tag: str | None = Query(None, max_length=64),
    producer: str | None = Query(None, max_length=64, description="The producing run's uuid."),
    created_after: datetime | None = None, created_before: datetime | None = None,
    latest_only: bool = Query(False, description="Each key's newest version only; with created_* this "
                                                 "filters by the key's last update."),
    limit: Limit = 100,
    cursor_: str | None = Query(None, alias="cursor", max_length=4096),
    records: bool = Query(False, description="Also send each version's record as stored."),
) -> models.ArtifactPage:
    """Artifact versions matching every filter, newest first, one keyset page at a time."""
    if key and q:
        raise ApiError(422, "Pass key (exact) or q (contains), not both.", field="q")
    query = cursor.fingerprint(project, kind, key, q, tag, producer, created_after, created_before,
                               latest_only, *label)
    after = _artifact_after(cursor.decode(cursor_, query))
    versions = data.list_artifacts(who, project, kind=kind, key=f"~{q}" if q else key, labels=label, tag=tag,
                                   producer=producer, since=created_after, until=created_before,
                                   latest_only=latest_only, limit=limit + 1, after=after)
    return _artifact_page(data, versions, limit, query, records)


def _artifact_after(after: list | None) -> tuple | None:
    """A versions page's keyset (created_at, version, uid), checked."""
    if after is None:
        return None
    if len(after) != 3 or not isinstance(after[1], int) or not isinstance(after[2], str) \
            or not isinstance(after[0], datetime):
        raise ApiError(400, "This cursor was not made by /artifacts.", code="bad_cursor", field="cursor")
    return tuple(after)


def _artifact_page(data: Data, versions: list, limit: int, query: str, records: bool = False) -> models.ArtifactPage:
    page = versions[:limit]
    next_cursor = None
    if len(versions) > limit and page:
        last = page[-1]
        next_cursor = cursor.encode([last.created_at, last.version, last.uid], query)
    return models.ArtifactPage(artifacts=[_out(data, v, records) for v in page], next_cursor=next_cursor)


@router.get("/artifacts/version", response_model=models.ArtifactOut, openapi_extra=scope("read"))
def get_artifact(uri: Uri, data: Data, who: Who) -> models.ArtifactOut:
    """The version a store URI names (latest by default)."""
    return _out(data, data.get_artifact(who, uri))


@router.get("/artifacts/versions", response_model=models.ArtifactPage, openapi_extra=scope("read"))
def artifact_versions(uri: Uri, data: Data, who: Who, limit: Limit = 100,
                      cursor_: str | None = Query(None, alias="cursor", max_length=4096,
                                                  description="next_cursor of the last page.")) -> models.ArtifactPage:
    """Every version of the artifact ``uri`` names, newest first, one keyset page at a time."""
    version = data.get_artifact(who, uri)
    query = cursor.fingerprint("versions", version.project, version.key)
    after = _artifact_after(cursor.decode(cursor_, query))
    versions = data.list_artifacts(who, version.project, kind=None, key=version.key, labels=None, tag=None,
                                   producer=None, since=None, until=None, latest_only=False, limit=limit + 1,
                                   after=after)
    return _artifact_page(data, versions, limit, query)


@router.get("/artifacts/download", openapi_extra=scope("read"),
            responses={200: {"content": {"application/octet-stream": {}}, "description": "The version's bytes."}})
def download_artifact(uri: Uri, data: Data, who: Who,
                      path: str | None = Query(None, min_length=1, max_length=4096,
                                               description="A file inside a directory version "
                                                           "(see /artifacts/files).")) -> FileResponse:
    """The bytes of a file artifact (or of one file of a directory artifact), as an attachment.
    Only from the server's own stores: a version kept elsewhere (another bucket, a path, a URL)
    is refused with 403, never fetched."""
    version, target = data.artifact_file(who, uri, path)
    name = target.name if path else f"{version.key}{version.record.get('ext') or ''}"
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FileResponse(target, media_type=media_type, headers=SANDBOX, filename=name,
                        content_disposition_type="attachment")


@router.get("/artifacts/files", response_model=models.ArtifactFiles, openapi_extra=scope("read"))
def artifact_files(uri: Uri, data: Data, who: Who, limit: Limit = models.MAX_LIMIT,
                   cursor_: str | None = Query(None, alias="cursor", max_length=4096,
                                               description="next_cursor of the last page.")) -> models.ArtifactFiles:
    """The files of a directory artifact by path, one keyset page at a time: each one's path
    inside it and size (download one with /artifacts/download?path=)."""
    files = sorted(data.artifact_files(who, uri))
    page, next_cursor = cursor.page_of(files, lambda f: (f[0],), limit, cursor_, cursor.fingerprint("files", uri))
    return models.ArtifactFiles(uri=uri, files=[models.ArtifactFile(path=p, size=n) for p, n in page],
                                next_cursor=next_cursor)


@router.post("/artifacts/tags", response_model=models.ArtifactOut, openapi_extra=scope("write"))
def tag_artifact(body: models.TagRequest, data: Data, who: Who) -> models.ArtifactOut:
    """Point a user tag at the version ``uri`` names (moving it off any other version)."""
    return _out(data, data.tag_artifact(who, body.uri, body.tag))


@router.delete("/artifacts/tags", status_code=204, openapi_extra=scope("write"))
def untag_artifact(uri: Uri, data: Data, who: Who, tag: str = Query(min_length=1, max_length=64)) -> None:
    """Remove a user tag from the artifact ``uri`` names."""
    data.untag_artifact(who, uri, tag)


@router.delete("/artifacts", response_model=models.DeletedArtifacts, openapi_extra=scope("admin"))
def delete_artifact(uri: Uri, data: Data, who: Who, all_versions: bool = False,
                    bytes_too: bool = Query(False, alias="data", description="Also remove bytes no version uses.")
                    ) -> models.DeletedArtifacts:
    """Delete the version ``uri`` names (or every version of its key). Needs an admin token."""
    return models.DeletedArtifacts(deleted=[_out(data, v) for v in data.delete_artifact(who, uri, all_versions, bytes_too)])


@router.get("/lineage", response_model=models.LineageOut, openapi_extra=scope("read"), tags=["lineage"])
def lineage(
    data: Data, who: Who,
    uri: str | None = Query(None, max_length=2048, description="Start at this artifact version..."),
    run: str | None = Query(None, max_length=64, description="...or at this run."),
    direction: str = Query("both", pattern="^(up|down|both)$"),
    depth: int = Query(2, ge=0, le=10, description="Hops from the start (at most 10)."),
) -> models.LineageOut:
    """The lineage graph around an artifact or a run: runs, versions and references (references
    are shown as they were logged and never fetched). At most 1000 nodes."""
    if (uri is None) == (run is None):
        raise ApiError(422, "Pass exactly one of uri= (a store URI) or run= (a run uuid).", field="uri")
    if uri is not None and not uri.startswith("store://"):
        raise ApiError(422, f"uri={uri[:80]!r} is not a store URI.", code="bad_uri", field="uri",
                       hint="Use store://<kind>/<project>/<key>[:tag][@uid].")
    graph = data.lineage(who, uri or run, direction, depth)
    return views.lineage_model(graph, MAX_LINEAGE_NODES)


@router.get("/tokens", response_model=models.TokenList, openapi_extra=scope("admin"), tags=["server"])
def list_tokens(data: Data, who: Who, limit: Limit = models.MAX_LIMIT,
                cursor_: str | None = Query(None, alias="cursor", max_length=4096,
                                            description="next_cursor of the last page.")) -> models.TokenList:
    """Every token's public record (never a token), oldest first, one keyset page at a time.
    Needs an admin token; one bound to a project sees only the tokens bound to that project."""
    held = sorted((t for t in data.list_tokens() if who.project is None or t["project"] == who.project),
                  key=lambda t: (str(t["created_at"]), t["id"]))
    page, next_cursor = cursor.page_of(held, lambda t: (str(t["created_at"]), t["id"]), limit, cursor_,
                                       cursor.fingerprint("tokens"))
    return models.TokenList(tokens=[models.TokenOut(**t) for t in page], next_cursor=next_cursor)
