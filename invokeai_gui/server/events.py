"""The Socket.IO events (InvokeAI 2.1's and ours): each handler validates one schema, then asks the studio."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import request
from flask_socketio import SocketIO

from ldm.invoke.errors import UserError, user_message
from ldm.invoke.files import CONTROL_FOLDER, MASK_FOLDER, WORK_FOLDER

from .jobs import MAX_CLIENT_NAME, client_key
from .schemas import (
    Cancel,
    ControlMapRequest,
    DeleteImage,
    Empty,
    GenerateImage,
    JobRequest,
    ModelChange,
    ModelDelete,
    ModelImport,
    ModelScan,
    RequestImages,
    RequestLatestImages,
    RunPostprocessing,
    SaveControlMap,
    Schema,
    UploadImage,
    parse_event,
)
from .security import output_url_to_relative
from .uploads import CONTROL_DESTINATION, WORK_DESTINATIONS

if TYPE_CHECKING:
    from .publisher import Publisher
    from .studio import Studio

log = logging.getLogger(__name__)


def _delete_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    # InvokeAI 2.2 clients send (url, thumbnail, uuid, category); 2.0/2.1 send (url, uuid, category).
    return (args[0], args[2], args[3]) if len(args) == 4 else args


def _cancel_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    # A job id may come bare or as {jobId}; no argument means the running job.
    if args and isinstance(args[0], dict):
        return (args[0].get("jobId", args[0].get("id")),)
    return args


def _object_args(*names: str) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """An event sent as one object (``{url}``) as the positional arguments ``on`` names."""
    def adapt(args: tuple[Any, ...]) -> tuple[Any, ...]:
        if args and isinstance(args[0], dict):
            return tuple(args[0].get(name) for name in names) + tuple(args[1:])
        return args

    return adapt


def handshake_client(auth: Any, sid: str) -> str:
    """The client a connection's jobs count as: the browser's persisted id from the handshake's
    ``auth`` (``{clientId}``), else (an InvokeAI 2.1 client sends none) the connection itself."""
    client_id = auth.get("clientId") if isinstance(auth, dict) else None
    if isinstance(client_id, str) and 0 < len(client_id) <= MAX_CLIENT_NAME and client_id.isprintable():
        return client_key("browser", client_id)
    return client_key("sid", sid)


def register_events(socketio: SocketIO, studio: Studio, publisher: Publisher) -> None:
    """Connects every client event to its handler."""

    def on(
        event: str, schema: type[Schema], names: tuple[str, ...],
        adapt: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None,
    ) -> Callable[[Callable[[str, Any], Any]], Callable[[str, Any], Any]]:
        def decorate(handle: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
            def handler(*args: Any) -> Any:
                sid = request.sid  # type: ignore[attr-defined]
                try:
                    parsed = parse_event(schema, event, adapt(args) if adapt else args, names)
                    return handle(sid, parsed)
                except UserError as exc:
                    log.info("%s refused: %s", event, exc)
                    error = {"message": user_message(exc)}
                    if getattr(exc, "field", None):  # a RequestError's, or an InvalidParameterError's
                        error["field"] = exc.field
                    publisher.reply(sid, "error", error)
                    # ours: the ack says it too, with the field (2.1 clients ignore acks)
                    return {"error": error["message"], **({"field": error["field"]} if "field" in error else {})}
                except Exception as exc:  # the server keeps running whatever a client sends
                    log.exception("%s failed", event)
                    message = user_message(exc, f"The server's {event} handler")
                    publisher.reply(sid, "error", {"message": message})
                    return {"error": message}

            socketio.on_event(event, handler)
            return handle

        return decorate

    clients: dict[str, str] = {}  # sid → the client its jobs count as (see client_of)

    def client_of(sid: str) -> str:
        return clients.get(sid) or client_key("sid", sid)

    @socketio.on("connect")
    def connect(auth: Any = None) -> None:
        sid = request.sid  # type: ignore[attr-defined]
        clients[sid] = handshake_client(auth, sid)
        log.debug("Client %s connected as %s", sid, clients[sid])
        publisher.reply(sid, "workersUpdate", {"workers": studio.board.current()})

    @socketio.on("disconnect")
    def disconnect(*_: Any) -> None:
        clients.pop(request.sid, None)  # type: ignore[attr-defined]

    @on("requestSystemConfig", Empty, ())
    def request_system_config(sid: str, _: Empty) -> None:
        publisher.reply(sid, "systemConfig", studio.system_config())

    # Each event that starts a job may end with the client's request id (ours), echoed in the job's events.
    @on("requestModelChange", ModelChange, ("model_name", "request_id"))
    def request_model_change(sid: str, req: ModelChange) -> dict:
        return studio.request_model_change(req.model_name, req.request_id, client=client_of(sid)).ids()

    def manage(operation: str, req: JobRequest, sid: str) -> dict:
        request = req.model_dump(exclude={"request_id"})
        return studio.manage_models(operation, request, sid, req.request_id).ids()

    @on("importModel", ModelImport, ("path", "name", "make_default", "request_id"))
    def import_model(sid: str, req: ModelImport) -> dict:
        return manage("import", req, sid)

    @on("scanModelFolder", ModelScan, ("path", "request_id"))
    def scan_model_folder(sid: str, req: ModelScan) -> dict:
        return manage("scan", req, sid)

    @on("deleteModel", ModelDelete, ("model_name", "request_id"))
    def delete_model(sid: str, req: ModelDelete) -> dict:
        return manage("delete", req, sid)

    @on("setDefaultModel", ModelDelete, ("model_name", "request_id"))
    def set_default_model(sid: str, req: ModelDelete) -> dict:
        return manage("default", req, sid)

    @on("requestImages", RequestImages, ("category", "earliest_mtime", "earliest_url"))
    def request_images(sid: str, req: RequestImages) -> None:
        earliest_name = output_url_to_relative(req.earliest_url).rpartition("/")[2] if req.earliest_url else None
        studio.gallery.refresh_if_changed()  # a file copied in a moment ago belongs on the first page
        images, more = studio.gallery.page(req.category, req.earliest_mtime, earliest_name)
        publisher.reply(sid, "galleryImages", {"images": images, "areMoreImagesAvailable": more, "category": req.category})

    @on("requestLatestImages", RequestLatestImages, ("category", "latest_mtime"))
    def request_latest_images(sid: str, req: RequestLatestImages) -> None:
        studio.gallery.refresh_if_changed()  # one stat per folder unless something changed on disk
        images = studio.gallery.newer(req.category, req.latest_mtime or 0.0)
        publisher.reply(sid, "galleryImages", {"images": images, "category": req.category})

    @on("generateImage", GenerateImage,
        ("generation_parameters", "esrgan_parameters", "facetool_parameters", "request_id"))
    def generate_image(sid: str, req: GenerateImage) -> dict:
        return studio.submit_generation(req, request_id=req.request_id, client=client_of(sid)).ids()

    @on("runPostprocessing", RunPostprocessing, ("original_image", "postprocessing_parameters", "request_id"))
    def run_postprocessing(sid: str, req: RunPostprocessing) -> dict:
        return studio.submit_postprocessing(req, request_id=req.request_id, client=client_of(sid)).ids()

    @on("cancel", Cancel, ("job_id",), adapt=_cancel_args)
    def cancel(sid: str, req: Cancel) -> None:
        if studio.jobs.cancel(req.job_id, client=client_of(sid)) is None and req.job_id:
            publisher.reply(sid, "error", {"message": f"There is no waiting or running job {req.job_id}."})

    @on("deleteImage", DeleteImage, ("url", "uuid", "category"), adapt=_delete_args)
    def delete_image(sid: str, req: DeleteImage) -> None:
        studio.delete_image(req.url)
        publisher.broadcast("imageDeleted", {"url": req.url, "uuid": req.uuid, "category": req.category})

    @on("uploadImage", UploadImage, ("bytes", "name", "destination"))
    def upload_image(sid: str, req: UploadImage) -> dict:
        """Answered with ``imageUploaded`` (2.1) and, ours, the same ImageInfo as the ack."""
        if req.destination in WORK_DESTINATIONS or req.destination == CONTROL_DESTINATION:  # inputs, kept apart
            folder = CONTROL_FOLDER if req.destination == CONTROL_DESTINATION else WORK_FOLDER
            info = {**studio.store_upload(req.bytes, req.name, folder=folder), "destination": req.destination}
            publisher.reply(sid, "imageUploaded", info)
            return info
        info = studio.store_upload(req.bytes, req.name)
        publisher.reply(sid, "imageUploaded", {**info, "destination": req.destination})
        publisher.broadcast("galleryImages", {"images": [info], "category": "user"}, skip_sid=sid)
        return {**info, "destination": req.destination}

    @on("requestControlMap", ControlMapRequest, ("control", "request_id"))
    def request_control_map(sid: str, req: ControlMapRequest) -> dict:
        """Ours: a preprocessor's map of a control image, acked as ``{url, width, height, preprocessor}``."""
        return studio.control_map(req.control)

    @on("saveControlMap", SaveControlMap, ("url",), adapt=_object_args("url"))
    def save_control_map(sid: str, req: SaveControlMap) -> dict:
        """Ours: a previewed map into the Uploads, told as an upload is (``imageUploaded``, destination null)."""
        info = studio.save_control_map(req.url)
        publisher.reply(sid, "imageUploaded", {**info, "destination": None})
        publisher.broadcast("galleryImages", {"images": [info], "category": "user"}, skip_sid=sid)
        return info

    @on("uploadMaskImage", UploadImage, ("bytes", "name"))
    def upload_mask_image(sid: str, req: UploadImage) -> dict:
        info = studio.store_upload(req.bytes, req.name, folder=MASK_FOLDER)
        publisher.reply(sid, "maskImageUploaded", info)
        return info

    @on("uploadInitialImage", UploadImage, ("bytes", "name"))
    def upload_initial_image(sid: str, req: UploadImage) -> dict:
        info = studio.store_upload(req.bytes, req.name)
        publisher.reply(sid, "initialImageUploaded", info)
        publisher.broadcast("galleryImages", {"images": [info], "category": "user"}, skip_sid=sid)
        return info

    @on("resumeQueue", Empty, ())
    def resume_queue(sid: str, _: Empty) -> None:
        studio.jobs.resume()

    @on("requestQueue", Empty, ())
    def request_queue(sid: str, _: Empty) -> None:
        publisher.reply(sid, "queueUpdate", {"jobs": studio.jobs.snapshot()})
