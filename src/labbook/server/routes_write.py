"""Write routes: create a run (client-made uuid, idempotent), log to it, upload files, end it.

Every write lands in an ordinary run folder through ``labbook.tracking.Run`` (see
``labbook.server.data``), so a run logged over HTTP reads back like one logged in Python.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from fastapi import APIRouter, File, Form, Response, UploadFile

from labbook.server import models, views
from labbook.server.auth import scope
from labbook.server.errors import ApiError
from labbook.server.routes_runs import Data, Who

router = APIRouter(tags=["write"])
WRITE = scope("write")
UPLOAD_KINDS = ("image", "artifact", "model", "dataset")


@router.put("/runs/{uuid}", response_model=models.RunDetail, openapi_extra=WRITE,
            responses={201: {"model": models.RunDetail, "description": "Created."}})
def create_run(uuid: str, body: models.RunCreate, data: Data, who: Who, response: Response) -> models.RunDetail:
    """Create run ``uuid`` (made by the client, so retrying is safe): 201 when created, 200 when it
    already exists (then the body is ignored and the run is returned as it is)."""
    run, created = data.create_run(who, uuid, body.project, body.name, body.description, body.tags, body.inputs)
    response.status_code = 201 if created else 200
    return views.run_detail(run)


def _write(data: Data, who: Who, uuid: str, action, *, end: bool = False) -> models.RunDetail:
    # params, results, tags and status show in lists and filters at once (metric batches wait
    # for the writer's next catalog update)
    return views.run_detail(data.write(who, uuid, action, end=end, index=True))


@router.post("/runs/{uuid}/inputs", response_model=models.RunDetail, openapi_extra=WRITE)
def log_inputs(uuid: str, body: models.Values, data: Data, who: Who) -> models.RunDetail:
    """Merge params into the run's inputs (``reset``: replace them all)."""
    return _write(data, who, uuid, lambda run: run.log_inputs(reset=body.reset, **body.values))


@router.post("/runs/{uuid}/outputs", response_model=models.RunDetail, openapi_extra=WRITE)
def log_outputs(uuid: str, body: models.Values, data: Data, who: Who) -> models.RunDetail:
    """Merge single results into the run's outputs (``reset``: replace them all)."""
    return _write(data, who, uuid, lambda run: run.log_outputs(reset=body.reset, **body.values))


@router.post("/runs/{uuid}/tags", response_model=models.RunDetail, openapi_extra=WRITE)
def log_tags(uuid: str, body: models.Tags, data: Data, who: Who) -> models.RunDetail:
    """Add tags (``reset``: replace them all)."""
    return _write(data, who, uuid, lambda run: run.log_tags(body.tags, reset=body.reset))


@router.post("/runs/{uuid}/status", response_model=models.RunDetail, openapi_extra=WRITE)
def log_status(uuid: str, body: models.StatusUpdate, data: Data, who: Who) -> models.RunDetail:
    """Record a status condition (Polyaxon's statuses); a final one ends the run's writing here."""
    final = data.is_final(body.status)
    return _write(data, who, uuid, lambda run: run.log_status(body.status, reason=body.reason, message=body.message),
                  end=final)


@router.post("/runs/{uuid}/metrics", response_model=models.Written, openapi_extra=WRITE)
def log_metrics(uuid: str, body: models.MetricBatch, data: Data, who: Who) -> models.Written:
    """Log a batch of metric points (up to 100,000): name, value, step, timestamp."""

    def action(run) -> None:
        for point in body.points:
            run.log_metric(point.name, point.value, step=point.step, timestamp=point.timestamp)

    run = data.write(who, uuid, action)
    return models.Written(run=run.uuid, written=len(body.points))


@router.post("/runs/{uuid}/events", response_model=models.Written, openapi_extra=WRITE)
def log_events(uuid: str, body: models.EventBatch, data: Data, who: Who) -> models.Written:
    """Log a batch of JSON events: text, html, histogram (values + counts), curve (x + y)."""
    for index, event in enumerate(body.events):
        needs = {"text": ("value",), "html": ("value",), "histogram": ("values", "counts"), "curve": ("x", "y")}
        for name in needs[event.kind]:
            if getattr(event, name) is None:
                raise ApiError(422, f"A {event.kind} event needs {name!r}.", field=f"events.{index}.{name}")

    def action(run) -> None:
        for e in body.events:
            if e.kind == "text":
                run.log_text(e.name, e.value, step=e.step, timestamp=e.timestamp)
            elif e.kind == "html":
                run.log_html(e.name, e.value, step=e.step, timestamp=e.timestamp)
            elif e.kind == "histogram":
                run.log_np_histogram(e.name, e.values, e.counts, step=e.step, timestamp=e.timestamp)
            else:
                run.log_curve(e.name, e.x, e.y, step=e.step, timestamp=e.timestamp)

    run = data.write(who, uuid, action)
    return models.Written(run=run.uuid, written=len(body.events))


@router.post("/runs/{uuid}/files", response_model=models.Uploaded, openapi_extra=WRITE)
def upload(uuid: str, data: Data, who: Who,
           file: UploadFile = File(description="The file's bytes (multipart/form-data)."),
           kind: str = Form("artifact", description="image, artifact, model or dataset."),
           name: str | None = Form(None, max_length=1024, description="Default: the file's name."),
           step: int | None = Form(None),
           artifact_kind: str | None = Form(None, max_length=64, description="For kind=artifact: its kind.")
           ) -> models.Uploaded:
    """Upload a file: an image event (``kind=image``, needs Pillow on the server) or a versioned
    artifact, model or dataset (with ``step``: also an event)."""
    if kind not in UPLOAD_KINDS:
        raise ApiError(422, f"kind={kind!r} cannot be uploaded.", field="kind",
                       hint=f"Use one of: {', '.join(UPLOAD_KINDS)}.")
    filename = PurePosixPath((file.filename or "upload").replace("\\", "/")).name or "upload"
    name = name or PurePosixPath(filename).stem or "upload"
    path = data.save_upload(iter(lambda: file.file.read(1 << 20), b""), filename)
    result: dict = {}
    try:
        def action(run) -> None:
            if kind == "image":
                from PIL import Image

                with Image.open(path) as image:
                    image.load()
                    run.log_image(image, name=name, step=step)
            elif kind == "model":
                result["version"] = run.log_model(str(path), name=name, step=step)
            elif kind == "dataset":
                result["version"] = run.log_artifact(str(path), name=name, kind="dataset", step=step)
            else:
                result["version"] = run.log_artifact(str(path), name=name, kind=artifact_kind, step=step)

        run = data.write(who, uuid, action)
    except OSError as error:
        raise ApiError(422, f"The uploaded file cannot be read as {kind}: {error}.", field="file") from None
    finally:
        data.remove_upload(path)
    version = result.get("version")
    artifact = views.artifact_model(version, data.artifact_readable(version)) if version is not None else None
    return models.Uploaded(run=run.uuid, kind=kind, name=name, step=step, artifact=artifact)


@router.post("/runs/{uuid}/end", response_model=models.RunDetail, openapi_extra=WRITE)
def end_run(uuid: str, data: Data, who: Who, body: models.RunEnd | None = None) -> models.RunDetail:
    """End the run: ``succeeded`` unless told ``failed`` or ``stopped``."""
    body = body or models.RunEnd()

    def action(run) -> None:
        run.log_status(body.status, message=body.message)

    return _write(data, who, uuid, action, end=True)
