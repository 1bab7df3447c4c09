"""The engine's side of the job queue: each job kind turned into ``Generate`` calls and protocol events.

Everything here runs on the queue's single worker thread, which alone owns the ``Generate``
object; other threads read the model facts it publishes (``system_config``).
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from ldm.invoke import APP_ID, __version__
from ldm.invoke import metadata as md
from ldm.invoke.errors import InvalidParameterError, InvokeError
from ldm.invoke.metadata import save_png_atomically

from .jobs import Job
from .schemas import GenerateImage, RunPostprocessing
from .security import UnsafePathError

if TYPE_CHECKING:
    from .app import InvokeServer

log = logging.getLogger(__name__)

POSTPROCESS_STATUS = {"esrgan": "Upscaling", "gfpgan": "Restoring Faces", "codeformer": "Restoring Faces"}


class ProgressReport:
    """The ``progressUpdate`` payloads of one job, with ``itPerSec`` and ``eta`` added."""

    def __init__(self, server: InvokeServer, job_id: str, total_iterations: int, total_steps: int) -> None:
        self.server = server
        self.job_id = job_id
        self.current_step = 0
        self.total_steps = total_steps
        self.current_iteration = 1
        self.total_iterations = total_iterations
        self.status = "Preparing"
        self.has_steps = False
        self.processing = True
        self.has_error = False
        self.it_per_sec = 0.0
        self._last_step_at: float | None = None

    def payload(self) -> dict[str, Any]:
        remaining = 0
        if self.total_steps:
            remaining = (self.total_steps - self.current_step) + (
                self.total_iterations - self.current_iteration
            ) * self.total_steps
        eta = remaining / self.it_per_sec if self.it_per_sec > 0 and self.processing else None
        return {
            "currentStep": self.current_step,
            "totalSteps": self.total_steps,
            "currentIteration": self.current_iteration,
            "totalIterations": self.total_iterations,
            "currentStatus": self.status,
            "isProcessing": self.processing,
            "currentStatusHasSteps": self.has_steps,
            "hasError": self.has_error,
            "itPerSec": round(self.it_per_sec, 3),
            "eta": None if eta is None else round(eta, 2),
            "jobId": self.job_id,
        }

    def send(self) -> None:
        self.server.broadcast("progressUpdate", self.payload())

    def set_status(self, status: str, has_steps: bool = False) -> None:
        self.status, self.has_steps = status, has_steps
        if not has_steps:
            self._last_step_at = None
        self.send()

    def step(self, step: int, total: int, status: str = "Generating") -> None:
        now = time.monotonic()
        if self._last_step_at is not None and step > self.current_step:
            # A smoothed rate; the first step of a pass includes set-up, so it is not counted.
            rate = (step - self.current_step) / max(now - self._last_step_at, 1e-6)
            self.it_per_sec = rate if self.it_per_sec == 0 else 0.7 * self.it_per_sec + 0.3 * rate
        self._last_step_at = now
        self.current_step, self.total_steps = step, total
        self.status, self.has_steps = status, True
        self.send()

    def next_iteration(self) -> None:
        if self.current_iteration < self.total_iterations:
            self.current_iteration += 1
            self.current_step = 0
        self._last_step_at = None

    def finish(self, status: str = "Processing Complete", has_error: bool = False) -> None:
        self.status, self.has_error, self.processing, self.has_steps = status, has_error, False, False
        self.current_step = self.total_steps = self.current_iteration = self.total_iterations = 0
        self.it_per_sec = 0.0
        self.send()


def preview_data_url(preview: Image.Image, width: int, height: int) -> str:
    """The engine's latent preview at latent resolution (1/8), which holds all its detail, as a PNG data URL."""
    small = preview.resize((max(1, width // 8), max(1, height // 8)), Image.Resampling.NEAREST)
    buffer = BytesIO()
    small.save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def img2img_total_steps(steps: int, strength: float) -> int:
    return min(int(steps * strength), steps)


class EngineJobs:
    """Owns the ``Generate`` object and runs the ``load_model``, ``change_model``, ``generate`` and
    ``postprocess`` jobs with it."""

    def __init__(self, server: InvokeServer) -> None:
        self.server = server
        self.config = server.config
        self._generate: Any = None  # ldm.invoke.generate.Generate, created on the worker thread
        self._facts_lock = threading.Lock()
        self._facts: dict[str, Any] = {}
        self.loaded = threading.Event()

    # -- model facts, readable from any thread ----------------------------------------------

    def system_config(self) -> dict[str, Any]:
        with self._facts_lock:
            facts = dict(self._facts)
        return {
            "model": "stable diffusion",
            "model_id": facts.get("model_id", self.config.model or ""),
            "model_hash": facts.get("model_hash") or "",
            "app_id": APP_ID,
            "app_version": __version__,
            "model_list": facts.get("model_list", {}),
            # Ours, beyond 2.1:
            "model_loaded": self.loaded.is_set(),
            "is_demo_model": facts.get("is_demo_model", False),
            "precision": facts.get("precision"),
            "device": facts.get("device"),
            "samplers": facts.get("samplers", []),
            "postprocessors": facts.get("postprocessors", {}),
            "outdir": str(self.server.outdir),
        }

    def _publish_facts(self) -> None:
        gen = self._generate
        facts: dict[str, Any] = {
            "model_id": gen.model_name,
            "model_hash": gen.model_hash,
            "model_list": gen.model_manager.list_models(),
            "is_demo_model": gen.is_demo_model,
            "precision": gen.precision,
            "device": gen.device,
        }
        try:
            from ldm.invoke.samplers import available_samplers

            facts["samplers"] = available_samplers()
        except Exception:
            log.exception("Could not list the samplers.")
        try:
            facts["postprocessors"] = gen.available_postprocessors()
        except Exception as exc:  # the restoration package is optional at run time
            reason = f"Postprocessing is unavailable: {exc}"
            facts["postprocessors"] = {kind: {"available": False, "reason": reason}
                                       for kind in ("esrgan", "gfpgan", "codeformer")}
        with self._facts_lock:
            self._facts = facts

    # -- the engine ------------------------------------------------------------------------

    def engine(self) -> Any:
        """The ``Generate`` object with its model loaded, created on first use."""
        if self._generate is None:
            from ldm.invoke.generate import Generate

            self._generate = Generate(
                model=self.config.model,
                root=self.config.root,
                precision=self.config.precision,
                device=self.config.device,
                free_gpu_mem=self.config.free_gpu_mem,
            )
        if not self.loaded.is_set():
            try:
                self._generate.load_model()
            finally:
                self._publish_facts()
            self.loaded.set()
            self.server.broadcast("systemConfig", self.system_config())
        return self._generate

    def load_model(self, job: Job) -> None:
        report = ProgressReport(self.server, job.id, 0, 0)
        report.set_status("Loading Model")
        self.engine()
        report.finish("Model Loaded")
        log.info("Model %s loaded on %s (%s).", self._generate.model_name, self._generate.device,
                 self._generate.precision)

    def change_model(self, job: Job) -> None:
        name = job.payload["model_name"]
        report = ProgressReport(self.server, job.id, 0, 0)
        report.set_status("Loading Model")
        try:
            gen = self.engine()
            gen.set_model(name)
        except Exception:
            model_list = self._generate.model_manager.list_models() if self._generate is not None else {}
            self.server.broadcast("modelChangeFailed", {"model_name": name, "model_list": model_list})
            raise
        finally:
            if self._generate is not None:
                self._publish_facts()
        report.finish("Model Changed")
        with self._facts_lock:
            model_list = self._facts.get("model_list", {})
        self.server.broadcast("modelChanged", {"model_name": name, "model_list": model_list})
        self.server.broadcast("systemConfig", self.system_config())

    def manage_models(self, job: Job) -> None:
        """``importModel`` / ``scanModelFolder`` / ``deleteModel`` / ``setDefaultModel``: change models.yaml, then tell every
        client the new list (``modelListChanged``, then ``systemConfig``)."""
        request = dict(job.payload)
        operation = request.pop("operation")
        manager = self.engine().model_manager
        report: dict[str, Any] = {}
        if operation == "import":
            path = Path(request["path"]).expanduser()
            if not path.exists():
                raise InvalidParameterError("path", f"{path} does not exist")
            report["added"] = [manager.import_model(path, name=request.get("name"),
                                                    make_default=bool(request.get("make_default")))]
        elif operation == "scan":
            folder = Path(request["path"]).expanduser()
            if not folder.is_dir():
                raise InvalidParameterError("path", f"{folder} is not a folder")
            report = manager.scan_folder(folder).as_dict()
        elif operation == "delete":
            name = request["model_name"]
            if name == self._generate.model_name:
                raise InvalidParameterError("model_name", f"{name} is the active model; switch to another first")
            if name not in manager.config():
                raise InvalidParameterError("model_name", f"there is no model named {name!r}")
            manager.delete_model(name)
            report["deleted"] = [name]
        elif operation == "default":
            name = request["model_name"]
            if name not in manager.config():
                raise InvalidParameterError("model_name", f"there is no model named {name!r}")
            manager.set_default(name)
            report["default"] = name
        self._publish_facts()
        with self._facts_lock:
            model_list = self._facts.get("model_list", {})
        self.server.broadcast("modelListChanged", {"operation": operation, "report": report, "model_list": model_list,
                                                   "jobId": job.id})
        self.server.broadcast("systemConfig", self.system_config())

    # -- generation ------------------------------------------------------------------------

    def _input_image(self, field: str, url: str) -> Path:
        """An image named by an ``outputs/...`` URL, checked again when the job runs (it may be gone)."""
        try:
            path = self.server.resolve_output_url(url)
        except (UnsafePathError, FileNotFoundError) as exc:
            raise InvalidParameterError(field, str(exc)) from None
        return path

    def generate(self, job: Job) -> None:
        request = GenerateImage.model_validate(job.payload["request"])
        params = request.generation_parameters
        mask_url = job.payload.get("mask_url")
        init_path = self._input_image("init_img", params.init_img) if params.init_img else None
        mask_path = self._input_image("init_mask", mask_url) if mask_url else None
        total_steps = img2img_total_steps(params.steps, params.strength) if init_path else params.steps
        report = ProgressReport(self.server, job.id, params.iterations, total_steps)
        report.send()
        gen = self.engine()
        esrgan = request.esrgan_parameters or None
        facetool = request.facetool_parameters or None
        width, height = params.width, params.height

        def on_step(step: int, total: int, preview: Image.Image | None) -> None:
            job.raise_if_canceled()
            report.step(step, total)
            if preview is not None and params.progress_latents:
                self.server.broadcast(
                    "intermediateResult",
                    {"url": preview_data_url(preview, width, height), "isBase64": True, "mtime": 0,
                     "metadata": {}, "width": width, "height": height, "jobId": job.id},
                )

        def on_intermediate(step: int, image: Image.Image) -> None:
            name = f"{job.id[:8]}.{report.current_iteration:03d}.{step:04d}.png"
            path = save_png_atomically(image, self.server.outdir / "intermediates" / name, exclusive=False)
            info = self.server.gallery.describe(path)
            info["jobId"] = job.id
            self.server.broadcast("intermediateResult", info)

        def on_status(status: str) -> None:
            if status not in ("Generating", report.status):  # the steps themselves say "Generating"
                report.set_status(status)

        def on_image(image: Image.Image, seed: int, first_seed: int) -> None:
            report.set_status("Saving Image")
            meta = md.image_metadata(image)
            image_meta = meta.get("image", {})
            # Record the URLs the UI knows rather than this machine's file paths.
            if init_path is not None:
                image_meta["init_image_path"] = params.init_img
            if mask_path is not None:
                image_meta["mask_image_path"] = mask_url
            if meta:
                md.attach_metadata(image, meta)
            # Looked up per image: the output folder may be switched while a job runs.
            gallery = self.server.gallery
            with gallery.writing("result"):
                path = self.server.png_writer().save_image(
                    image, seed, postprocessed=bool(image_meta.get("postprocessing")))
            info = gallery.add(path)
            info["jobId"] = job.id
            self.server.broadcast("generationResult", info)
            report.next_iteration()

        seamless = self.config.seamless if params.seamless is None else params.seamless
        kwargs: dict[str, Any] = dict(
            prompt=params.prompt, iterations=params.iterations, steps=params.steps, cfg_scale=params.cfg_scale,
            threshold=params.threshold, perlin=params.perlin, width=width, height=height,
            sampler_name=params.sampler_name, seed=None if params.seed in (None, -1) else params.seed,
            seamless=seamless, hires_fix=params.hires_fix, hires_strength=params.hires_strength,
            variation_amount=params.variation_amount,
            with_variations=[list(pair) for pair in params.with_variations] if params.with_variations else None,
            preview_every=1 if params.progress_latents else 0,
            intermediate_every=params.save_intermediates if params.progress_images else 0,
            step_callback=on_step, intermediate_callback=on_intermediate, image_callback=on_image,
            status_callback=on_status,
        )
        if init_path is not None:
            kwargs.update(init_img=str(init_path), strength=params.strength, fit=params.fit)
            if mask_path is not None:
                kwargs["init_mask"] = str(mask_path)
            if params.bounding_box is not None:
                kwargs["bounding_box"] = params.bounding_box.model_dump()
            kwargs["inpaint_replace"] = params.inpaint_replace
            kwargs["seam_size"] = params.seam_size
        if esrgan is not None:
            kwargs["upscale"] = [esrgan.level, esrgan.strength]
        if facetool is not None:
            kwargs.update(facetool=facetool.type, facetool_strength=facetool.strength,
                          codeformer_fidelity=facetool.codeformer_fidelity)
        job.raise_if_canceled()
        gen.prompt2image(**kwargs)
        report.finish()

    # -- postprocessing --------------------------------------------------------------------

    def postprocess(self, job: Job) -> None:
        request = RunPostprocessing.model_validate(job.payload["request"])
        params = request.postprocessing_parameters
        source = self._input_image("original_image", request.original_image.url)
        report = ProgressReport(self.server, job.id, 1, 0)
        report.set_status(POSTPROCESS_STATUS[params.type])
        gen = self.engine()
        passes: list[tuple[str, dict[str, Any]]] = []
        with Image.open(source) as im:
            im.load()
            image = im.copy()
        meta = md.read_metadata(image)
        seed = _seed_of(meta, source)
        options: dict[str, Any] = {"codeformer_fidelity": params.codeformer_fidelity}
        if params.upscale is not None:
            options["upscale"] = list(params.upscale)
        if params.facetool_strength is not None:
            options["facetool_strength"] = params.facetool_strength
        passes.append((params.type, options))
        if params.facetool is not None:
            passes.append((params.facetool.type, {"facetool_strength": params.facetool.strength,
                                                  "codeformer_fidelity": params.facetool.codeformer_fidelity}))
        result = image
        for kind, kind_options in passes:
            job.raise_if_canceled()
            status = POSTPROCESS_STATUS[kind]
            report.set_status(status)

            def on_tile(done: int, total: int, status: str = status) -> None:
                job.raise_if_canceled()  # a cancel stops an upscale between tiles
                report.step(done, total, status)

            result = gen.postprocess(result, kind, kind_options, progress=on_tile)
        report.set_status("Saving Image")
        gallery = self.server.gallery
        with gallery.writing("result"):
            path = self.server.png_writer().save_image(result, seed, postprocessed=True)
        info = gallery.add(path)
        info["jobId"] = job.id
        self.server.broadcast("postprocessingResult", info)
        report.finish()


def _seed_of(meta: dict[str, Any], path: Path) -> int:
    """The seed a postprocessed copy is named after: from the metadata, else the NNNNNN.SEED name, else 0."""
    seed = meta.get("image", {}).get("seed") if isinstance(meta.get("image"), dict) else None
    if isinstance(seed, int) and seed >= 0:
        return seed
    parts = path.name.split(".")
    if len(parts) >= 3 and parts[1].isdigit():
        return int(parts[1])
    return 0


def describe_failure(exc: BaseException) -> str:
    """A sentence for the user: our errors already are; others get their type and a hint."""
    if isinstance(exc, InvalidParameterError):
        return f"Invalid {exc.field}: {exc.message.rstrip('.')}."
    if isinstance(exc, InvokeError):
        return str(exc)
    if type(exc).__name__ == "OutOfMemoryError":
        return ("The GPU ran out of memory. Try a smaller image size, fewer images at once, or "
                "--free_gpu_mem; the server is still running.")
    return f"The job failed: {type(exc).__name__}: {exc}"


__all__ = ["EngineJobs", "ProgressReport", "describe_failure"]
