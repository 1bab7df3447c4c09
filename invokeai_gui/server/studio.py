"""The studio: the one service behind every client (the Socket.IO events, the desktop bridge, the
HTTP APIs). It accepts requests, queues them, hands them to the worker and alone writes what comes
back into the output tree and the gallery. No Flask here: it talks to clients through a Publisher."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from ldm.invoke import APP_ID, __version__
from ldm.invoke import metadata as md
from ldm.invoke.errors import GenerationCanceled, InvalidParameterError, MissingFileError, user_message
from ldm.invoke.files import (
    CONTROL_FOLDER,
    INIT_FOLDER,
    MASK_FOLDER,
    UnsafePathError,
    atomic_write,
    entry_inside,
    output_url_to_relative,
    parse_result_name,
)
from ldm.invoke.request import (
    CONTROL_MODES,
    RESIZE_MODES,
    SAMPLERS_BY_ID,
    GenerationRequest,
    ImageRef,
    PostprocessRequest,
    PostprocessStep,
    limits_for_clients,
)

from .config import ServerConfig
from .gallery import GalleryIndex, category_of, folder_digest, is_image_name
from .jobs import STUDIO_CLIENT, Job, JobQueue
from .outputs import OutputTree
from .publisher import ProgressReport, Publisher, preview_data_url
from .schemas import ControlMap, GenerateImage, RunPostprocessing
from .uploads import UploadError, UploadLimits, check_image, decode_base64_image, too_big_message
from .worker import Worker, WorkerSettings
from .workerboard import WorkerBoard, WorkerRow, worker_row

if TYPE_CHECKING:
    from .pool import WorkerPool

log = logging.getLogger(__name__)

IN_PROCESS_WORKER = "worker-0"  # the name of the one worker without --cluster (the pool's are worker-N too)


class Studio:
    """Submit, cancel, resume, delete, upload, the output folder and the models, for every client."""

    def __init__(self, config: ServerConfig, publisher: Publisher, worker: Worker | None = None) -> None:
        self.config = config
        self.publisher = publisher
        self.limits = UploadLimits(config.max_upload_bytes, config.max_upload_pixels)
        self._outdir_lock = threading.RLock()
        self.outputs = OutputTree(self.outdir)
        self.gallery = self._open_gallery(self.outdir)
        # --cluster: jobs run on a pool of workers on Ray; the pool stands in for the worker's facts.
        self.pool: WorkerPool | None = None
        if config.cluster and worker is None:
            from .pool import WorkerPool

            self.pool = WorkerPool(config)
        self.worker: Any = worker or self.pool or Worker(WorkerSettings(
            root=config.root, model=config.model, precision=config.precision, device=config.device,
            free_gpu_mem=config.free_gpu_mem, compile=config.compile, attention=config.attention))
        self.board = WorkerBoard(publisher, self._worker_rows)
        if self.pool is not None:
            self.pool.on_change = self.board.update
        self.jobs = JobQueue(
            config.databases_dir / "queue.sqlite3",
            on_change=self._queue_changed,
            on_failure=self._job_failed,
            on_cancel=self._job_canceled,
            choose=self.pool.choose if self.pool else lambda job, idle: idle[0],
            on_worker_lost=self._worker_lost,
        )
        self.jobs.register("load_model", self._load_model)
        self.jobs.register("change_model", self._change_model)
        self.jobs.register("manage_models", self._manage_models)
        self.jobs.register("generate", self._generate)
        self.jobs.register("postprocess", self._postprocess)
        self._started = False

    # -- facts --------------------------------------------------------------------------------

    def system_config(self) -> dict[str, Any]:
        """``systemConfig``: InvokeAI 2.1's fields, then ours (limits and samplers included, so clients
        keep no copies of them)."""
        facts = self.worker.facts()
        available = facts.get("samplers", [])
        return {
            "model": "stable diffusion",
            "model_id": facts.get("model_id", self.config.model or ""),
            "model_hash": facts.get("model_hash") or "",
            "app_id": APP_ID,
            "app_version": __version__,
            "model_list": facts.get("model_list", {}),
            # Ours, beyond 2.1:
            "model_loaded": self.worker.loaded.is_set(),
            "is_demo_model": facts.get("is_demo_model", False),
            "precision": facts.get("precision"),
            "device": facts.get("device"),
            "threads": facts.get("threads"),  # torch's, on the worker: a recipe's float32 pixels depend on it
            "attention": facts.get("attention"),  # how the worker's UNet attends, and whether it is compiled:
            "compiled": facts.get("compiled"),  # both change pixels, so the UI warns when a recipe differs
            "samplers": [{"id": s, "name": SAMPLERS_BY_ID[s].name, "a1111": SAMPLERS_BY_ID[s].a1111}
                         for s in available if s in SAMPLERS_BY_ID],
            "limits": limits_for_clients(),
            "model_error": facts.get("model_error"),  # why the model named by model_id failed to load
            "postprocessors": facts.get("postprocessors", {}),
            "control_models": facts.get("control_models", {}),  # by name: {family, kind, description}
            **control_choices(facts, self.config.root),  # control_preprocessors, control_modes, resize_modes
            "outdir": str(self.outdir),
            "max_upload_bytes": self.limits.max_bytes,
            **self.prompt_names(),  # "loras" and "embeddings": what the prompt box completes
        }

    def prompt_names(self) -> dict[str, list[str]]:
        """The LoRA names and embedding trigger words in the root's folders and the scanned ones, read
        from disk each time (a file dropped in a folder counts at once); none when models.yaml is broken."""
        from ldm.invoke.errors import ModelLoadError
        from ldm.invoke.model_manager import ModelManager

        try:
            return ModelManager(self.config.root).prompt_names()
        except (ModelLoadError, OSError) as exc:
            log.warning("The LoRA and embedding folders could not be listed: %s", exc)
            return {"loras": [], "embeddings": []}

    def wait_until_loaded(self, timeout: float | None = None) -> bool:
        return self.worker.loaded.wait(timeout)

    # -- the workers ----------------------------------------------------------------------------

    def _worker_rows(self) -> list[WorkerRow]:
        """``workersUpdate``'s list: the pool's workers, or the one in-process worker."""
        running = {job.slot: job.id for job in self.jobs.running_jobs() if job.status == "running"}
        rates = self.board.rates
        if self.pool is None:
            facts = self.worker.facts()
            model = facts.get("model_id") if self.worker.loaded.is_set() else None
            return [worker_row(IN_PROCESS_WORKER, None, facts, model, running.get(0),
                               rates.get(IN_PROCESS_WORKER, 0.0), True)]
        return [worker_row(w.name, w.description.get("host"), w.facts(), w.loaded_model, running.get(i),
                           rates.get(w.name, 0.0), w.alive) for i, w in enumerate(self.pool.workers)]

    def _queue_changed(self, jobs: list[dict[str, Any]]) -> None:
        self.publisher.broadcast("queueUpdate", {"jobs": jobs})
        self.board.update()  # a job started or ended on some worker

    def _worker_lost(self, slot: int) -> None:
        """A worker died under its job: shown as not alive until it is back."""
        if self.pool is None:
            return
        worker = self.pool.workers[slot]
        worker.alive = False
        self.board.update()
        self.pool.revive(slot)
        worker.alive = True
        self.board.update()

    # -- the output folder --------------------------------------------------------------------

    @property
    def outdir(self) -> Path:
        return self.config.outdir  # type: ignore[return-value]

    def _open_gallery(self, outdir: Path) -> GalleryIndex:
        """The folder's index. It is a cache of the disk: one that cannot be read is rebuilt."""
        outdir.mkdir(parents=True, exist_ok=True)
        digest = folder_digest(outdir)
        db_path = self.config.databases_dir / f"gallery-{digest}.sqlite3"

        def open_index() -> GalleryIndex:
            return GalleryIndex(outdir, db_path, self.config.root / "thumbnails" / digest,
                                page_size=self.config.page_size)

        try:
            return open_index()
        except sqlite3.DatabaseError as exc:
            log.warning("The gallery index %s could not be read (%s); it is rebuilt from the images on disk.",
                        db_path, exc)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db_path}{suffix}").unlink(missing_ok=True)
            return open_index()

    def set_outdir(self, path: str | Path) -> Path:
        """Switches the output folder (results and gallery), re-indexes it and tells every client."""
        new = Path(path).expanduser().resolve()
        with self._outdir_lock:
            if new != self.outdir:
                gallery = self._open_gallery(new)
                old, self.gallery = self.gallery, gallery
                self.config.outdir = new
                self.outputs = OutputTree(new)
                if self._started:
                    gallery.start(self.config.gallery_poll_seconds)
                else:
                    gallery.reconcile()
                old.close()
        self.publisher.broadcast("outputFolderChanged", {"outdir": str(new)})
        return new

    def resolve_output_url(self, url: str) -> Path:
        """The file behind an ``outputs/...`` URL; raises UnsafePathError outside the output folder
        and FileNotFoundError when there is no such file."""
        return self.outputs.resolve(url)

    # -- images in and out --------------------------------------------------------------------

    def store_upload(self, data: object, name: object, folder: str = INIT_FOLDER) -> dict[str, Any]:
        """Checks and stores an uploaded image under ``outdir/folder``; returns its ImageInfo."""
        checked = check_image(data, self.limits)
        gallery, outputs = self.gallery, self.outputs
        if folder != INIT_FOLDER:
            return gallery.describe(outputs.store(checked, name, folder), category="user")
        with gallery.writing("user"):
            path = outputs.store(checked, name)
        return gallery.add(path)

    def upload_file(self, path: str | Path, folder: str = INIT_FOLDER) -> dict[str, Any]:
        """Uploads a local file (a native file dialog's pick or a drop) like ``uploadImage``: into the
        Uploads as an init image, or into another ``folder`` of the tree, outside the gallery."""
        source = Path(path)
        try:
            size = source.stat().st_size
        except OSError as exc:
            raise UploadError(f"Cannot read {source.name}: {exc.strerror or exc}.") from None
        if size > self.limits.max_bytes:
            raise UploadError(too_big_message(source.name, size, self.limits.max_bytes))
        info = self.store_upload(source.read_bytes(), source.name, folder=folder)
        if folder == INIT_FOLDER:
            self.publisher.broadcast("galleryImages", {"images": [info], "category": "user"})
        return info

    def delete_image(self, url: str) -> Path:
        """Moves an image of the output tree to the OS trash and forgets it."""
        from send2trash import send2trash

        # The entry itself: deleting a link inside the folder trashes the link, never what it points to.
        path = entry_inside(self.outdir, output_url_to_relative(url))
        if not is_image_name(path.name) or path.is_dir():
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

    # -- control maps -------------------------------------------------------------------------

    def control_map(self, request: ControlMap) -> dict[str, Any]:
        """``requestControlMap``: the map made where jobs run (the worker's own call, beside a running
        generation; a pool worker with --cluster), saved as outdir/control-images/map.KEY.png. The key
        is the request's digest, so an identical request reuses the saved map without running again."""
        from ldm.invoke.control.identity import annotator_facts
        from ldm.invoke.control.table import PREPROCESSORS

        if request.image:
            image = self._input_image("control.image", request.image)
        else:  # the map of a unit without a picture: the init image's, as Invoke would give it
            init = self._input_image("control.init_img", request.init_img) if request.init_img else None
            mask = None
            if init is not None and request.init_mask:
                try:
                    mask = ImageRef.from_bytes(decode_base64_image(request.init_mask, self.limits).data)
                except UploadError as exc:
                    raise InvalidParameterError("control.init_mask", str(exc)) from None
            image = self._init_picture("control.image", request.preprocessor, init, mask,
                                       request.width or 0, request.height or 0, request.fit and bool(request.width))
        job = {"image": image.data, "url": image.url, "preprocessor": request.preprocessor,
               "settings": dict(request.settings), "resize_mode": request.resize_mode,
               "width": request.width, "height": request.height}
        # The content of the weights the preprocessor reads where it runs is part of the key (the root's
        # until the worker has told): a map made once weights arrived, or were replaced, is new.
        digests = (self.worker.facts().get("annotators") or annotator_facts(self.config.root)).get("digests") or {}
        spec = PREPROCESSORS.get(request.preprocessor)
        weights = {name: digests.get(name) for name in (spec.weights if spec else ())}
        key = json.dumps({**job, "image": image.sha256, "url": None, "weights": weights}, sort_keys=True)
        path = self.outdir / CONTROL_FOLDER / f"map.{hashlib.sha256(key.encode()).hexdigest()[:20]}.png"
        if path.is_file():
            with Image.open(path) as made:
                width, height = made.size
        else:
            answer = self.worker.control_map(job)
            atomic_write(answer["png"], path)
            width, height = answer["width"], answer["height"]
        return {"url": self.outputs.url_of(path), "width": width, "height": height,
                "preprocessor": request.preprocessor}

    def keep_control_image(self, data: bytes) -> str:
        """A unit's picture (checked already) that came by value, kept as outdir/control-images/api.SHA.EXT;
        the same picture sent again is the same file."""
        checked = check_image(data, self.limits)
        path = self.outdir / CONTROL_FOLDER / f"api.{hashlib.sha256(data).hexdigest()[:20]}{checked.extension}"
        if not path.is_file():
            atomic_write(data, path)
        return self.outputs.url_of(path)

    def save_control_map(self, url: str) -> dict[str, Any]:
        """``saveControlMap``: a map of outdir/control-images/ copied into the Uploads (the gallery's
        "user" category), as an upload of it would be."""
        try:
            path = self.resolve_output_url(url)
        except (UnsafePathError, MissingFileError) as exc:
            raise InvalidParameterError("url", str(exc)) from None
        if path.parent.resolve() != (self.outdir / CONTROL_FOLDER).resolve():
            raise InvalidParameterError("url", f"{url} is not a control map (maps are under outputs/{CONTROL_FOLDER}/)")
        return self.store_upload(path.read_bytes(), path.name)

    def _input_image(self, field: str, url: str) -> ImageRef:
        """An image of the output tree named by its ``outputs/...`` URL, by content."""
        try:
            path = self.resolve_output_url(url)
        except (UnsafePathError, MissingFileError) as exc:
            raise InvalidParameterError(field, str(exc)) from None
        return ImageRef.from_bytes(path.read_bytes(), self.outputs.url_of(path))

    # -- submitting ---------------------------------------------------------------------------

    def generation_request(self, event: GenerateImage, mask_url: str | None = None) -> GenerationRequest:
        """A ``generateImage`` event as the request it means: its init image read by content, its
        random seed fixed, its painted mask stored under mask-images/ (so the recipe can name it) once
        the request is known to be valid. ``mask_url`` names a mask stored already (an old queue row)."""
        params = event.generation_parameters
        init = self._input_image("init_img", params.init_img) if params.init_img else None
        mask, painted = None, None
        if init is not None and mask_url:
            mask = self._input_image("init_mask", mask_url)
        elif init is not None and params.init_mask and not params.is_mask_empty:
            painted = decode_base64_image(params.init_mask, self.limits)
            mask = ImageRef.from_bytes(painted.data)
        controls = tuple(self._input_image(f"control[{i}].image", unit.image) if unit.image else
                         self._init_picture(f"control[{i}].image", unit.preprocessor, init, mask, params.width,
                                            params.height, params.fit)
                         for i, unit in enumerate(params.control or ()))
        request = event.to_request(init, mask, seamless_default=self.config.seamless,
                                   control_images=controls).with_seed().validate()
        if request.control:
            self.check_control(request)
        if painted is not None:
            path = self.outputs.store(painted, "mask", MASK_FOLDER, "mask")
            request = request.replace(init_mask=ImageRef.from_bytes(painted.data, self.outputs.url_of(path)))
        return request

    @staticmethod
    def _init_picture(field: str, preprocessor: str, init: ImageRef | None, mask: ImageRef | None,
                      width: int, height: int, fit: bool) -> ImageRef:
        """A picture-less unit's picture: the init image (its part to fill transparent for inpaint_only)."""
        from ldm.invoke.control.from_init import init_picture

        return ImageRef.from_bytes(init_picture(field, preprocessor, init, mask, width, height, fit))

    def _control_kept(self, request: GenerationRequest) -> GenerationRequest:
        """The request with each unit picture that is not in the output tree yet (an API's, one taken from
        the init image) kept under control-images/, once the request has passed every check, so the recipe
        names it and a recall finds it; a refused request leaves nothing behind."""
        if all(unit.image.url for unit in request.control):
            return request
        units = tuple(unit if unit.image.url else
                      dataclasses.replace(unit, image=ImageRef(unit.image.data, unit.image.sha256,
                                                               self.keep_control_image(unit.image.data)))
                      for unit in request.control)
        return request.replace(control=units)

    def check_control(self, request: GenerationRequest) -> None:
        """Refuses, before anything is queued, units whose ControlNet is unknown or made for another
        model family than the model the job will run with, or whose image cannot be read."""
        from ldm.invoke.control.prepare import check_units

        facts = self.worker.facts()  # the pool's, with --cluster
        model = request.model or facts.get("model_id")
        family = (facts.get("model_list") or {}).get(model, {}).get("family", "sd1")
        entries = facts.get("control_models") or {}
        controls = {name: entry["family"] for name, entry in entries.items()}
        kinds = {name: entry.get("kind", "controlnet") for name, entry in entries.items()}
        found = facts.get("annotators")
        weights = (Path(found["folder"]), frozenset(found["files"])) if found else None
        check_units(request, controls, family, str(model), weights, kinds)

    def submit_generation(self, event: GenerateImage | GenerationRequest, summary_prefix: str = "",
                          save: bool = True, request_id: str | None = None,
                          client: str = STUDIO_CLIENT) -> Job:
        """Queues a generation. With ``save=False`` (an HTTP API caller that only wants the pictures)
        nothing is written: each result stays in ``job.results`` as ``{"png", "seed"}``, and the job
        is not persisted (nobody would be waiting for it after a restart). ``request_id``, the
        client's name for the request, is echoed as ``requestId`` in every event of the job."""
        if isinstance(event, GenerationRequest):
            request = event.with_seed().validate()
            if request.control:
                self.check_control(request)
        else:
            request = self.generation_request(event)
        request = self._control_kept(request)
        summary = (f"{summary_prefix}{request.mode}: “{request.prompt[:60]}” — {request.iterations} × "
                   f"{request.width}×{request.height}, {request.steps} steps")
        payload: dict[str, Any] = {"generation": request.to_json(), "done": 0}
        if not save:
            payload["save"] = False
        if self.pool is not None:  # the studio's current model when it was asked for
            payload["model"] = request.model or self.pool.current_model
        return self.jobs.submit("generate", payload, summary, persist=save, request_id=request_id, client=client)

    def postprocess_request(self, event: RunPostprocessing) -> PostprocessRequest:
        params = event.postprocessing_parameters
        source = self._input_image("original_image", event.original_image.url)
        steps = [_first_step(params.type, params.upscale, params.facetool_strength, params.codeformer_fidelity)]
        if params.facetool is not None:
            steps.append(PostprocessStep(params.facetool.type, strength=params.facetool.strength,
                                         codeformer_fidelity=params.facetool.codeformer_fidelity))
        return PostprocessRequest(source, tuple(steps), _seed_of(source)).validate()

    def submit_postprocessing(self, event: RunPostprocessing | PostprocessRequest, summary_prefix: str = "",
                              save: bool = True, request_id: str | None = None,
                              client: str = STUDIO_CLIENT) -> Job:
        request = event.validate() if isinstance(event, PostprocessRequest) else self.postprocess_request(event)
        name = (request.image.url or "").rpartition("/")[2] or "an image"
        payload: dict[str, Any] = {"postprocess": request.to_json()}
        if not save:
            payload["save"] = False
        return self.jobs.submit("postprocess", payload, f"{summary_prefix}{request.steps[0].type}: {name}",
                                persist=save, request_id=request_id, client=client)

    def request_model_change(self, model_name: str, request_id: str | None = None,
                             client: str = STUDIO_CLIENT) -> Job:
        return self.jobs.submit("change_model", {"model_name": model_name}, f"Switch to model {model_name}",
                                persist=False, request_id=request_id, client=client)

    def manage_models(self, operation: str, request: dict, asker: str | None = None,
                      request_id: str | None = None) -> Job:
        """Import, scan or delete models.yaml entries on the worker (which owns the model manager).
        What the job learns of the disk (paths found, skipped, missing) goes to ``asker`` only."""
        summary = f"Models: {operation} {request['model_name']}" if request.get("model_name") else f"Models: {operation}"
        return self.jobs.submit("manage_models", {"operation": operation, **request, "asker": asker}, summary,
                                persist=False, private=asker is not None, request_id=request_id)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Starts the gallery keeper and the job worker, and queues the model load."""
        if self._started:
            return
        self._started = True
        self.gallery.start(self.config.gallery_poll_seconds)
        if self.pool is not None:
            self.pool.start()
        self.jobs.start(workers=len(self.pool.workers) if self.pool else 1,
                        names=[w.name for w in self.pool.workers] if self.pool else [IN_PROCESS_WORKER])
        if self.config.load_model_at_start:
            self.jobs.submit("load_model", {}, "Loading the model", persist=False)

    def stop(self, cancel_running: bool = True) -> None:
        """The running job is canceled (or finished first); waiting jobs stay in the queue database."""
        # A canceled generation stops within a step; a model still loading cannot be interrupted, and
        # the worker is a daemon thread, so do not hold the user's Ctrl-C hostage for long.
        self.jobs.stop(cancel_running=cancel_running, timeout=5 if cancel_running else 3600)
        if self.pool is not None:
            self.pool.stop()

    def close(self) -> None:
        self.gallery.close()

    # -- job handlers (on the queue's worker thread) ------------------------------------------

    def _job_failed(self, job: Job, exc: BaseException) -> None:
        error = {"message": user_message(exc), **job.ids()}
        asker = job.payload.get("asker") if job.kind == "manage_models" else None
        if asker:  # "/some/path does not exist" is for the client that asked, not for everyone
            self.publisher.reply(asker, "error", error)
        else:
            self.publisher.broadcast("error", error)
        self._report(job, 0, 0).finish("Error", has_error=True)

    def _job_canceled(self, job: Job) -> None:
        self.publisher.broadcast("processingCanceled", job.ids())
        self._report(job, 0, 0).finish("Canceled")

    def _report(self, job: Job, total_iterations: int, total_steps: int) -> ProgressReport:
        return ProgressReport(self.publisher, job.id, total_iterations, total_steps, job.request_id, job.worker,
                              others_running=lambda: any(other.id != job.id for other in self.jobs.running_jobs()))

    def _worker_of(self, job: Job) -> Any:
        """The worker running ``job``: the in-process one, or the pool's worker in the job's slot."""
        return self.pool.workers[job.slot] if self.pool is not None else self.worker

    def _ensure_loaded(self, worker: Any = None) -> None:
        worker = worker or self.worker
        if worker.loaded.is_set():
            return
        try:
            worker.engine()
        finally:
            if worker.facts():
                self.publisher.broadcast("systemConfig", self.system_config())
            self.board.update()  # its model is loaded

    def _load_model(self, job: Job) -> None:
        report = self._report(job, 0, 0)
        report.set_status("Loading Model")
        self._ensure_loaded(self._worker_of(job))
        report.finish("Model Loaded")

    def _change_model(self, job: Job) -> None:
        name = job.payload["model_name"]
        report = self._report(job, 0, 0)
        report.set_status("Loading Model")
        worker = self._worker_of(job)
        try:
            if self.pool is not None:
                self.pool.check_model(name)
            worker.change_model(name)
        except Exception:
            model_list = worker.facts().get("model_list", {})
            self.publisher.broadcast("modelChangeFailed", {"model_name": name, "model_list": model_list, **job.ids()})
            raise
        if self.pool is not None:  # the model new jobs get; this worker has it loaded now
            self.pool.current_model = name
        self.board.update()
        report.finish("Model Changed")
        model_list = worker.facts().get("model_list", {})
        self.publisher.broadcast("modelChanged", {"model_name": name, "model_list": model_list, **job.ids()})
        self.publisher.broadcast("systemConfig", self.system_config())

    def _manage_models(self, job: Job) -> None:
        """``importModel`` / ``scanModelFolder`` / ``deleteModel`` / ``setDefaultModel``: change models.yaml,
        then tell every client the new list (``modelListChanged``, then ``systemConfig``)."""
        request = dict(job.payload)
        operation = request.pop("operation")
        asker = request.pop("asker", None)
        worker = self._worker_of(job)
        self._ensure_loaded(worker)
        progress = self._report(job, 0, 0)
        # a scan tells its progress and stops between files on cancel, in this process or on a pool worker
        report = worker.manage_models(operation, request, _JobSink(self, job, progress, None))
        changed = {"operation": operation, "model_list": worker.facts().get("model_list", {}), **job.ids()}
        if asker:  # the list is everyone's news; the report of what is on this disk is the asker's
            self.publisher.reply(asker, "modelListChanged", {**changed, "report": report})
            self.publisher.broadcast("modelListChanged", {**changed, "report": {}}, skip_sid=asker)
        else:
            self.publisher.broadcast("modelListChanged", {**changed, "report": report})
        self.publisher.broadcast("systemConfig", self.system_config())
        if report.get("canceled"):  # what it found so far is kept and was told; the job itself was canceled
            raise GenerationCanceled()
        progress.finish()

    def _generate(self, job: Job) -> None:
        request = self._saved_generation(job)
        done = int(job.payload.get("done", 0))
        request = request.replace(first_image=done)
        report = self._report(job, request.iterations, request.total_steps)
        report.current_iteration = min(done + 1, request.iterations)
        report.send()
        job.raise_if_canceled()
        worker = self._worker_of(job)
        if self.pool is not None:
            request = request.replace(model=request.model or job.payload.get("model"))
            self.pool.check_model(request.model)
        self._ensure_loaded(worker)
        sink = _JobSink(self, job, report, request)
        for result in worker.generate(request, sink):
            if job.payload.get("save") is False:
                job.payload["done"] = result.index + 1
                job.results.append({"png": result.png, "seed": result.seed, **job.ids()})
                report.next_iteration()
                continue
            report.set_status("Saving Image")
            gallery = self.gallery  # looked up per image: the output folder may be switched while a job runs
            with gallery.writing("result"):
                path = self.outputs.save_result(result.png, result.seed, result.postprocessed, result.control_maps)
            # Recorded before the result is announced: a resumed job continues with the next image.
            job.payload["done"] = result.index + 1
            self.jobs.record(job)
            info = gallery.add(path)
            info.update(job.ids())
            job.results.append(info)
            self.publisher.broadcast("generationResult", info)
            if result.error:
                self.publisher.broadcast("error", {
                    "message": f"{path.name} was saved without its postprocessing: {result.error}",
                    **job.ids(), "url": info["url"]})
            report.next_iteration()
        if job.worker and report.it_per_sec:
            self.board.rates[job.worker] = report.it_per_sec
        report.finish()

    def _saved_generation(self, job: Job) -> GenerationRequest:
        """The job's request; a row written before requests existed is translated, or refused by name."""
        if "generation" in job.payload:
            return GenerationRequest.from_json(job.payload["generation"])
        try:
            event = GenerateImage.model_validate(job.payload["request"])
            request = self.generation_request(event, job.payload.get("mask_url"))
        except Exception as exc:
            raise _from_earlier_version(job, exc) from None
        job.payload = {"generation": request.to_json(), "done": 0}
        self.jobs.record(job)
        return request

    def _postprocess(self, job: Job) -> None:
        if "postprocess" in job.payload:
            request = PostprocessRequest.from_json(job.payload["postprocess"])
        else:  # a row written before requests existed
            try:
                request = self.postprocess_request(RunPostprocessing.model_validate(job.payload["request"]))
            except Exception as exc:
                raise _from_earlier_version(job, exc) from None
        report = self._report(job, 1, 0)
        report.set_status(_STATUS[request.steps[0].type])
        worker = self._worker_of(job)
        self._ensure_loaded(worker)
        result = worker.postprocess(request, _JobSink(self, job, report, None))
        if job.payload.get("save") is False:
            job.results.append({"png": result.png, "seed": result.seed, **job.ids()})
            report.finish()
            return
        gallery = self.gallery
        with gallery.writing("result"):
            path = self.outputs.save_result(result.png, result.seed, postprocessed=True)
        info = gallery.add(path)
        info.update(job.ids())
        job.results.append(info)
        self.publisher.broadcast("postprocessingResult", info)
        report.finish()


def control_choices(facts: dict[str, Any], root: Path) -> dict[str, Any]:
    """``systemConfig``'s control lists: the preprocessors in table order (each with the weight files
    it needs and those missing from the worker's annotator folder, or the root's until the worker
    has told), the control and resize modes."""
    from ldm.invoke.control.table import PREPROCESSORS, annotator_files

    found = facts.get("annotators")
    present = frozenset(found["files"]) if found else annotator_files(root)
    return {"control_preprocessors": [p.as_dict(present) for p in PREPROCESSORS.values()],
            "control_modes": [{"id": k, "name": v} for k, v in CONTROL_MODES.items()],
            "resize_modes": [{"id": k, "name": v} for k, v in RESIZE_MODES.items()]}


_STATUS = {"esrgan": "Upscaling", "gfpgan": "Restoring Faces", "codeformer": "Restoring Faces"}


class _JobSink:
    """A job's progress as protocol events: ``progressUpdate``, previews, saved intermediates."""

    def __init__(self, studio: Studio, job: Job, report: ProgressReport, request: GenerationRequest | None) -> None:
        self.studio = studio
        self.job = job
        self.report = report
        self.request = request

    def raise_if_canceled(self) -> None:
        self.job.raise_if_canceled()

    def status(self, text: str) -> None:
        if text not in ("Generating", self.report.status):  # the steps themselves say "Generating"
            self.report.set_status(text)

    def step(self, step: int, total: int, status: str = "Generating") -> None:
        self.report.step(step, total, status)

    def preview(self, image: Image.Image) -> None:
        width, height = (self.request.width, self.request.height) if self.request is not None else image.size
        self.studio.publisher.broadcast("intermediateResult", {
            "url": preview_data_url(image, width, height), "isBase64": True, "mtime": 0, "metadata": {},
            "width": width, "height": height, **self.job.ids()})

    def intermediate(self, step: int, png: bytes) -> None:
        name = f"{self.job.id[:8]}.{self.report.current_iteration:03d}.{step:04d}.png"
        path = self.studio.outputs.save_intermediate(name, png)
        info = self.studio.gallery.describe(path)
        info.update(self.job.ids())
        self.studio.publisher.broadcast("intermediateResult", info)


def _from_earlier_version(job: Job, exc: BaseException) -> InvalidParameterError:
    """A queue row written before requests existed that cannot be translated, refused by name."""
    return InvalidParameterError("job", f"the job “{job.summary}” was saved by an earlier version and cannot be "
                                        f"resumed ({user_message(exc)})")


def _first_step(kind: str, upscale: Any, facetool_strength: float | None, fidelity: float) -> PostprocessStep:
    if kind == "esrgan":
        level, strength = upscale
        return PostprocessStep("esrgan", level=int(level), strength=float(strength))
    return PostprocessStep(kind, strength=float(facetool_strength or 0.0), codeformer_fidelity=fidelity)


def _seed_of(image: ImageRef) -> int:
    """The seed a postprocessed copy is named after: from the recipe, else the NNNNNN.SEED name, else 0."""
    meta = md.metadata_from_info(image.image.info)
    seed = meta.get("image", {}).get("seed") if isinstance(meta.get("image"), dict) else None
    if isinstance(seed, int) and seed >= 0:
        return seed
    parsed = parse_result_name((image.url or "").rpartition("/")[2])
    return parsed[1] if parsed else 0


__all__ = ["Studio"]
