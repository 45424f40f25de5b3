"""Sync routes: run folders shipped from clients, incrementally and idempotently.

The protocol (``labbook.sync.protocol``, docs/server.md): a client asks what the server holds
of a run (``GET /sync/runs/{uuid}``), creates the run from its run.json when it is new, then
sends append-only files by offset, small records whole, and immutable files by content hash
(asking first which blobs the server lacks, uploading those in resumable parts, then linking).
Every answer says what the server has committed, so a retry after a lost answer is a no-op.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse

from labbook.server import cursor, models
from labbook.server.auth import scope
from labbook.server.errors import ApiError
from labbook.server.routes_runs import Data, Limit, Who
from labbook.sync.protocol import PART_SIZE, check_rel_path

router = APIRouter(prefix="/sync", tags=["sync"])
READ, WRITE = scope("read"), scope("write")
Path_ = Annotated[str, Query(alias="path", min_length=1, max_length=4096,
                             description="A file of the run folder, relative to it ('events/metric/loss/0-1-a.lbm').")]
Sha = Annotated[str, Query(pattern="^[0-9a-f]{64}$", description="The SHA-256 of the blob (64 hex digits).")]
_MAX_PART = 4 * PART_SIZE


async def _body(request: Request) -> bytes:
    data = await request.body()
    if len(data) > _MAX_PART:
        raise ApiError(413, f"A sync request carries at most {_MAX_PART} bytes; send {PART_SIZE}-byte parts.",
                       field="body")
    return data


def _manifest(data, who, uuid: str, limit: int = models.MAX_LIMIT, token: str | None = None) -> models.SyncManifest:
    """One keyset page of the manifest: the files after the cursor's path, by path."""
    query = cursor.fingerprint("sync-manifest", uuid.replace("-", "").lower())
    after = cursor.decode(token, query)
    if after is not None and (len(after) != 1 or not isinstance(after[0], str)):
        raise ApiError(400, f"cursor={str(token)[:40]!r} was made by another list.", code="bad_cursor",
                       field="cursor", hint="Pass the next_cursor of the previous page unchanged.")
    folder, files = data.sync_manifest(who, uuid, after[0] if after else None, limit + 1)
    page = files[:limit]
    next_cursor = cursor.encode([page[-1][0]], query) if len(files) > limit else None
    return models.SyncManifest(uuid=folder.path.name, project=folder.path.parent.name,
                               files={k: models.SyncFile(**v) for k, v in page}, next_cursor=next_cursor)


@router.get("/runs/{uuid}", response_model=models.SyncManifest, openapi_extra=READ)
def manifest(uuid: str, data: Data, who: Who, limit: Limit = models.MAX_LIMIT,
             cursor_: str | None = Query(None, alias="cursor", max_length=4096,
                                         description="next_cursor of the last page.")) -> models.SyncManifest:
    """What the server holds of run ``uuid``, one keyset page at a time (by path, at most
    ``limit`` files): each file's mode, committed size and (for files other than append-only
    ones) SHA-256. 404 when the server has no such run."""
    return _manifest(data, who, uuid, limit, cursor_)


@router.get("/runs/{uuid}/bytes", openapi_extra=READ, response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}, "description": "The bytes."}})
def read_bytes(uuid: str, path: Path_, data: Data, who: Who,
               start: int = Query(0, ge=0, description="The first byte wanted.")) -> Response:
    """The committed bytes of an append-only file from ``start`` (wherever the server keeps it:
    run folder or object store): what ``pull`` fetches."""
    check_rel_path(path)
    return Response(data.sync_read(who, uuid, path, start), media_type="application/octet-stream")


@router.put("/runs/{uuid}", response_model=models.SyncManifest, openapi_extra=WRITE,
            responses={201: {"model": models.SyncManifest, "description": "Created."}})
def create(uuid: str, body: models.SyncCreate, data: Data, who: Who, response: Response) -> models.SyncManifest:
    """Create run ``uuid`` (client-made) from its run.json: 201, or 200 with what the server
    holds when it exists (a retry is safe): the manifest's first page, like ``GET``."""
    folder, created = data.sync_create(who, uuid, body.project, body.run_json.encode())
    response.status_code = 201 if created else 200
    return _manifest(data, who, folder.path.name)


@router.post("/runs/{uuid}/append", response_model=models.SyncCommitted, openapi_extra=WRITE)
async def append(uuid: str, path: Path_, request: Request, data: Data, who: Who,
                 offset: int = Query(ge=0, description="Where the body's bytes start in the file.")
                 ) -> models.SyncCommitted:
    """Append the body (raw bytes) to an append-only file at ``offset``. Bytes the server holds
    are compared, not written twice; a gap or different bytes: 409 ``conflict``."""
    check_rel_path(path)
    body = await _body(request)
    committed = await _thread(data.sync_append, who, uuid, path, offset, body)
    return models.SyncCommitted(path=path, committed=committed)


@router.put("/runs/{uuid}/file", response_model=models.SyncCommitted, openapi_extra=WRITE)
async def replace(uuid: str, path: Path_, request: Request, data: Data, who: Who) -> models.SyncCommitted:
    """Replace a small record of the run folder whole (run.json, summaries/, heartbeat/). A
    run.json edited on the server since its client last sent one is merged with what is sent
    (field by field, docs/server.md): ``merged`` is then what the server holds."""
    check_rel_path(path)
    body = await _body(request)
    merged = await _thread(data.sync_replace, who, uuid, path, body)
    if merged is not None:
        return models.SyncCommitted(path=path, committed=len(merged), merged=merged.decode())
    return models.SyncCommitted(path=path, committed=len(body))


@router.post("/runs/{uuid}/link", response_model=models.SyncLinked, openapi_extra=WRITE)
def link(uuid: str, body: models.SyncLink, data: Data, who: Who) -> models.SyncLinked:
    """Make each path the blob named by its hash; ``missing`` lists hashes to upload first."""
    for path in body.files:
        check_rel_path(path)
    return models.SyncLinked(missing=data.sync_link(who, uuid, body.files))


@router.post("/runs/{uuid}/artifacts", response_model=models.SyncVersions, openapi_extra=WRITE)
def artifacts(uuid: str, body: models.SyncArtifacts, data: Data, who: Who) -> models.SyncVersions:
    """Make artifact versions the run logged on its client versions on this server (same uid)."""
    return models.SyncVersions(**data.sync_artifacts(who, uuid, body.versions, body.dir_files))


@router.get("/artifacts/record", response_model=models.SyncRecord, openapi_extra=READ)
def artifact_record(data: Data, who: Who,
                    uri: str = Query(max_length=2048, description="A store:// URI (tag or uid allowed).")
                    ) -> models.SyncRecord:
    """The version record a URI names, as stored, with its tags (what a client's
    ``labbook.get_artifact`` rebuilds the same ``ArtifactVersion`` from)."""
    version = data.get_artifact(who, uri)
    return models.SyncRecord(record=version.record, tags=list(version.tags))


@router.post("/blobs/missing", response_model=models.SyncHashes, openapi_extra=WRITE)
def missing(body: models.SyncHashes, data: Data, who: Who) -> models.SyncHashes:
    """Of these hashes, those whose bytes the server does not hold (send only these)."""
    return models.SyncHashes(hashes=data.sync_missing(body.hashes))


@router.get("/blobs/{sha256}/upload", response_model=models.SyncPart, openapi_extra=WRITE)
def upload_state(sha256: str, data: Data, who: Who) -> models.SyncPart:
    """How much of an upload of ``sha256`` the server holds (``complete`` when all of it)."""
    committed = data.sync_part_committed(_sha(sha256))
    return models.SyncPart(committed=max(committed, 0), complete=committed < 0)


@router.put("/blobs/{sha256}", response_model=models.SyncPart, openapi_extra=WRITE)
async def put_part(sha256: str, request: Request, data: Data, who: Who,
                   offset: int = Query(0, ge=0), size: int = Query(ge=0, description="The blob's whole size.")
                   ) -> models.SyncPart:
    """A part of blob ``sha256`` at ``offset`` (resumable: ask ``/upload`` where to go on). The
    last part checks the hash; the blob is then whole and immutable."""
    body = await _body(request)
    committed, complete = await _thread(data.sync_put_part, _sha(sha256), offset, size, body)
    return models.SyncPart(committed=committed, complete=complete)


@router.get("/blobs/{sha256}", openapi_extra=READ, response_class=FileResponse)
def get_blob(sha256: str, data: Data, who: Who) -> FileResponse:
    """A blob's bytes (what ``pull_remote_run`` fetches for immutable files)."""
    return FileResponse(data.sync_blob(_sha(sha256)), media_type="application/octet-stream")


def _sha(value: str) -> str:
    from labbook.sync.protocol import check_sha256

    return check_sha256(value)


async def _thread(function, *args):
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(function, *args)
