"""The application factory: ``create_app(config)`` builds the Flask app, the Socket.IO server and the
services behind them, owned by one ``InvokeServer`` object (no module-level state)."""

from __future__ import annotations

import errno
import logging
import socket
import threading
from pathlib import Path
from typing import Any

from flask import Flask
from flask_socketio import SocketIO
from werkzeug.serving import (
    BaseWSGIServer,
    WSGIRequestHandler,
    get_sockaddr,
    make_server,
    select_address_family,
)

from ldm.invoke.metadata import PngWriter

from .config import ServerConfig, is_loopback
from .engine import EngineJobs, ProgressReport, describe_failure
from .events import register_events
from .gallery import CATEGORY_FOLDERS, GalleryIndex, category_of, folder_digest, is_image_name
from .jobs import Job, JobQueue
from .routes import register_routes
from .schemas import GenerateImage, RunPostprocessing
from .security import AccessGuard, OriginPolicy, UnsafePathError, output_url_to_relative, relative_inside
from .uploads import UploadError, UploadLimits, check_image, decode_base64_image, human_size, store_image

log = logging.getLogger(__name__)

MASK_FOLDER = "mask-images"
UPLOAD_FOLDER = CATEGORY_FOLDERS["user"]


class PortInUseError(OSError):
    """The port is taken; the message is the one line the command line prints."""


class _RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, quiet unless --web_verbose (one log line per image request is noise)."""

    verbose = False

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.verbose:
            super().log_request(code, size)

    def log_error(self, format: str, *args: Any) -> None:
        # Mostly bytes a closing WebSocket leaves behind, parsed as a request; noise for users.
        if self.verbose:
            super().log_error(format, *args)


class InvokeServer:
    """The running application: Flask + Socket.IO, the job queue, the gallery and the engine worker.

    Its public methods are also the in-process API the desktop window uses (``set_outdir``,
    ``upload_file``, ``resolve_output_url``, ``shutdown``).
    """

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.limits = UploadLimits(config.max_upload_bytes, config.max_upload_pixels)
        self.flask_app = Flask(__name__, static_folder=None)
        self.flask_app.config["MAX_CONTENT_LENGTH"] = config.max_upload_bytes
        self.socketio = SocketIO(
            self.flask_app,
            async_mode="threading",
            cors_allowed_origins=OriginPolicy(config.cors),
            logger=config.web_verbose,
            engineio_logger=config.web_verbose,
            # Uploads arrive as Socket.IO binary messages; leave room for the framing.
            max_http_buffer_size=config.max_upload_bytes + 1024 * 1024,
            ping_interval=25,
            ping_timeout=60,
        )
        # Outermost layer, so the Host and token checks also cover the Socket.IO handshake.
        self.flask_app.wsgi_app = AccessGuard(self.flask_app.wsgi_app, config)  # type: ignore[method-assign]

        self._outdir_lock = threading.RLock()
        self._png_writer: PngWriter | None = None
        self.gallery = self._open_gallery(config.outdir)  # type: ignore[arg-type]
        self.engine = EngineJobs(self)
        self.jobs = JobQueue(
            config.databases_dir / "queue.sqlite3",
            on_change=lambda jobs: self.broadcast("queueUpdate", {"jobs": jobs}),
            on_failure=self._job_failed,
            on_cancel=self._job_canceled,
        )
        self.jobs.register("load_model", self.engine.load_model)
        self.jobs.register("change_model", self.engine.change_model)
        self.jobs.register("manage_models", self.engine.manage_models)
        self.jobs.register("generate", self.engine.generate)
        self.jobs.register("postprocess", self.engine.postprocess)

        register_routes(self.flask_app, self)
        register_events(self.socketio, self)
        self._http: BaseWSGIServer | None = None
        self._serve_thread: threading.Thread | None = None
        self._started = False
        self._stopped = False

    # -- messages ---------------------------------------------------------------------------

    def broadcast(self, event: str, data: Any = None, skip_sid: str | None = None) -> None:
        """Job and image events go to every client, so all open windows stay in step."""
        self.socketio.emit(event, data, skip_sid=skip_sid)

    def reply(self, sid: str, event: str, data: Any = None) -> None:
        """Answers to one client's request go to that client only."""
        self.socketio.emit(event, data, to=sid)

    def _job_failed(self, job: Job, exc: BaseException) -> None:
        self.broadcast("error", {"message": describe_failure(exc), "jobId": job.id})
        ProgressReport(self, job.id, 0, 0).finish("Error", has_error=True)

    def _job_canceled(self, job: Job) -> None:
        self.broadcast("processingCanceled", {"jobId": job.id})
        ProgressReport(self, job.id, 0, 0).finish("Canceled")

    # -- the output folder ------------------------------------------------------------------

    @property
    def outdir(self) -> Path:
        return self.config.outdir  # type: ignore[return-value]

    def _open_gallery(self, outdir: Path) -> GalleryIndex:
        outdir.mkdir(parents=True, exist_ok=True)
        digest = folder_digest(outdir)
        return GalleryIndex(
            outdir,
            self.config.databases_dir / f"gallery-{digest}.sqlite3",
            self.config.root / "thumbnails" / digest,
            page_size=self.config.page_size,
        )

    def png_writer(self) -> PngWriter:
        with self._outdir_lock:
            if self._png_writer is None or self._png_writer.outdir != self.outdir:
                self._png_writer = PngWriter(self.outdir)
            return self._png_writer

    def set_outdir(self, path: str | Path) -> Path:
        """Switches the output folder (results and gallery), re-indexes it and tells every client."""
        new = Path(path).expanduser().resolve()
        with self._outdir_lock:
            if new != self.outdir:
                gallery = self._open_gallery(new)
                old, self.gallery = self.gallery, gallery
                self.config.outdir = new
                self._png_writer = None
                if self._started:
                    gallery.start(self.config.gallery_poll_seconds)
                else:
                    gallery.reconcile()
                old.close()
        self.broadcast("outputFolderChanged", {"outdir": str(new)})
        return new

    def resolve_output_url(self, url: str) -> Path:
        """The file behind an ``outputs/...`` URL; raises UnsafePathError outside the output folder
        and FileNotFoundError when there is no such file."""
        path = relative_inside(self.outdir, output_url_to_relative(url))
        if not path.is_file():
            raise FileNotFoundError(f"The image {url} does not exist (it may have been deleted).")
        return path

    # -- images in and out ------------------------------------------------------------------

    def store_upload(self, data: object, name: object, folder: str = UPLOAD_FOLDER) -> dict[str, Any]:
        """Checks and stores an uploaded image under ``outdir/folder``; returns its ImageInfo."""
        checked = check_image(data, self.limits)
        gallery = self.gallery
        if folder != UPLOAD_FOLDER:
            return gallery.describe(store_image(checked, name, self.outdir / folder), category="user")
        with gallery.writing("user"):
            path = store_image(checked, name, self.outdir / folder)
        return gallery.add(path)

    def upload_file(self, path: str | Path) -> dict[str, Any]:
        """Uploads a local file (a native file dialog's pick or a drop) as an init image, like ``uploadImage``."""
        source = Path(path)
        try:
            size = source.stat().st_size
        except OSError as exc:
            raise UploadError(f"Cannot read {source.name}: {exc.strerror or exc}.") from None
        if size > self.limits.max_bytes:
            raise UploadError(f"{source.name} is {human_size(size)}; the limit is {human_size(self.limits.max_bytes)}.")
        info = self.store_upload(source.read_bytes(), source.name)
        self.broadcast("galleryImages", {"images": [info], "category": "user"})
        return info

    def delete_image(self, url: str) -> Path:
        """Moves an image of the output tree to the OS trash and forgets it."""
        from send2trash import send2trash

        path = self.resolve_output_url(url)
        if not is_image_name(path.name):
            raise UnsafePathError("Only images can be deleted.")
        gallery = self.gallery
        where = category_of(path.relative_to(self.outdir).as_posix())
        try:
            if where is None:
                send2trash(str(path))
            else:
                with gallery.writing(where[0]):
                    send2trash(str(path))
        except OSError as exc:
            raise UploadError(f"Could not move {path.name} to the trash: {exc}.") from None
        gallery.remove(path)
        return path

    # -- jobs -------------------------------------------------------------------------------

    def submit_generation(self, request: GenerateImage) -> Job:
        params = request.generation_parameters
        if params.init_img:
            self.resolve_output_url(params.init_img)  # fail now, to the sender, if it is already gone
        mask_url = None
        if params.init_mask and not params.is_mask_empty:
            mask = decode_base64_image(params.init_mask, self.limits)
            mask_info = self.gallery.describe(store_image(mask, "mask", self.outdir / MASK_FOLDER, "mask"), "user")
            mask_url = mask_info["url"]
        payload = {
            "request": request.model_dump(mode="json", exclude={"generation_parameters": {"init_mask"}}),
            "mask_url": mask_url,
        }
        mode = "inpaint" if mask_url else "img2img" if params.init_img else "txt2img"
        summary = (
            f"{mode}: “{params.prompt[:60]}” — {params.iterations} × {params.width}×{params.height}, {params.steps} steps"
        )
        return self.jobs.submit("generate", payload, summary)

    def submit_postprocessing(self, request: RunPostprocessing) -> Job:
        source = self.resolve_output_url(request.original_image.url)
        kind = request.postprocessing_parameters.type
        payload = {"request": request.model_dump(mode="json")}
        return self.jobs.submit("postprocess", payload, f"{kind}: {source.name}")

    def request_model_change(self, model_name: str) -> Job:
        return self.jobs.submit("change_model", {"model_name": model_name}, f"Switch to model {model_name}", persist=False)

    def manage_models(self, operation: str, request: dict) -> Job:
        """Import, scan or delete models.yaml entries on the worker (which owns the model manager)."""
        target = request.get("path") or request.get("model_name")
        return self.jobs.submit("manage_models", {"operation": operation, **request},
                                f"Models: {operation} {target}", persist=False)

    def wait_until_loaded(self, timeout: float | None = None) -> bool:
        return self.engine.loaded.wait(timeout)

    # -- serving ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._http.port if self._http is not None else self.config.port

    @property
    def url(self) -> str:
        """The address to open; with a token it carries ``?token=`` (the first visit sets the cookie)."""
        host = self.config.host
        if host in ("0.0.0.0", "::", ""):
            host = _lan_address()
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        url = f"http://{host}:{self.port}/"
        return url + f"?token={self.config.token}" if self.config.requires_token else url

    def bind(self) -> None:
        """Opens the listening socket; raises PortInUseError with a one-line message when it is taken."""
        if self._http is not None:
            return
        host, port = self.config.host, self.config.port
        family = select_address_family(host, port)
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(get_sockaddr(host, port, family))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise PortInUseError(
                    exc.errno,
                    f"Port {port} on {host} is already in use (or not allowed); stop the program using it "
                    f"or start with another --port.",
                ) from None
            raise PortInUseError(exc.errno, f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from None
        handler = type("RequestHandler", (_RequestHandler,), {"verbose": self.config.web_verbose})
        self._http = make_server(host, port, self.flask_app, threaded=True, request_handler=handler, fd=sock.fileno())
        sock.close()  # make_server holds its own duplicate of the socket
        self.config.port = self._http.port

    def _start_services(self) -> None:
        if self._started:
            return
        self._started = True
        self.gallery.start(self.config.gallery_poll_seconds)
        self.jobs.start()
        if self.config.load_model_at_start:
            self.jobs.submit("load_model", {}, "Loading the model", persist=False)

    def start(self) -> str:
        """Binds, starts the worker and the gallery keeper, and serves from a daemon thread; returns the URL."""
        self.bind()
        self._start_services()
        assert self._http is not None
        self._serve_thread = threading.Thread(target=self._http.serve_forever, name="http-server", daemon=True)
        self._serve_thread.start()
        return self.url

    def serve_forever(self) -> None:
        """Binds and serves on the calling thread until ``shutdown`` (from another thread) or Ctrl-C."""
        self.bind()
        self._start_services()
        assert self._http is not None
        self._serve_thread = threading.current_thread()
        try:
            self._http.serve_forever()
        finally:
            self.shutdown(cancel_running=True)

    def shutdown(self, cancel_running: bool = True) -> None:
        """Stops serving: the running job is canceled (or, with ``cancel_running=False``, finished
        first); jobs still waiting stay in the queue database and come back paused next time."""
        if self._stopped:
            return
        self._stopped = True
        # A canceled generation stops within a step; a model still loading cannot be interrupted, and
        # the worker is a daemon thread, so do not hold the user's Ctrl-C hostage for long.
        self.jobs.stop(cancel_running=cancel_running, timeout=5 if cancel_running else 3600)
        serving = self._serve_thread
        if self._http is not None:
            if serving is not None and serving is not threading.current_thread():
                self._http.shutdown()  # returns once serve_forever has left its loop
                if serving.daemon:
                    serving.join(timeout=10)
            self._http.server_close()
        self.gallery.close()


def _lan_address() -> str:
    """This machine's address on the LAN (a UDP "connect" sends nothing), for the printed URL."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere
            return s.getsockname()[0]
    except OSError:
        return socket.gethostname()


def create_app(config: ServerConfig) -> InvokeServer:
    """Builds the application; call ``.start()`` (background thread) or ``.serve_forever()`` on it."""
    if not is_loopback(config.host) and config.no_auth:
        log.warning(
            "Serving on %s without an access token (--no-auth): anyone on the network can use this server.",
            config.host,
        )
    return InvokeServer(config)


__all__ = ["InvokeServer", "PortInUseError", "ServerConfig", "UnsafePathError", "UploadError", "create_app"]
