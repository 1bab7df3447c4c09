"""The worker: it owns one ``Generate`` (the engine and its model cache) and turns requests into PNG
bytes plus metadata. It holds no publisher, no server and no output folder, so it can run in another
thread, process or host; the studio alone writes files and talks to clients.

Importing this module loads neither Flask nor Qt (the engine itself is imported on first use)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from ldm.invoke.errors import InvalidParameterError, InvokeError, ModelLoadError
from ldm.invoke.request import ControlUnit, GenerationRequest, ImageRef, PostprocessRequest

log = logging.getLogger(__name__)

POSTPROCESS_STATUS = {"esrgan": "Upscaling", "gfpgan": "Restoring Faces", "codeformer": "Restoring Faces"}


@dataclass(frozen=True)
class WorkerSettings:
    """What the worker's ``Generate`` is built with (plain values, so they travel anywhere)."""

    root: Path
    model: str | None = None
    precision: str = "auto"
    device: str = "auto"
    free_gpu_mem: bool = False
    compile: bool = False
    attention: str = "auto"


@dataclass
class ImageResult:
    """One finished picture: encoded PNG (its recipe in the text chunks), the parsed recipe, the seed
    it is named after, its index in the request, and a failed postprocessing pass's message."""

    png: bytes
    metadata: dict[str, Any]
    seed: int
    index: int = 0
    postprocessed: bool = False
    error: str | None = None
    control_maps: tuple[bytes, ...] = ()  # each control unit's map (PNG), saved beside the result


class ProgressSink(Protocol):
    """Where a running job's progress goes; ``raise_if_canceled`` stops it (GenerationCanceled)."""

    def raise_if_canceled(self) -> None: ...

    def status(self, text: str) -> None: ...

    def step(self, step: int, total: int, status: str = "Generating") -> None: ...

    def preview(self, image: Image.Image) -> None: ...

    def intermediate(self, step: int, png: bytes) -> None: ...


def _face_status(done: int, total: int) -> str:
    """The face being restored, counted from 1 ("Restoring faces 1/3" while the first one runs)."""
    return f"Restoring faces {min(done + 1, total)}/{total}" if total else "Restoring Faces"


SCAN_PROGRESS_SECONDS = 0.25  # a scan of thousands of small files tells its progress this often, not per file


def _scan_progress(sink: ProgressSink) -> Any:
    """A scan's per-file hook: a cancel stops it before the next file; progress goes out now and then."""
    last = [0.0]

    def before_each(done: int, total: int) -> None:
        sink.raise_if_canceled()
        now = time.monotonic()
        if done == 0 or now - last[0] >= SCAN_PROGRESS_SECONDS:
            last[0] = now
            sink.step(done, total, f"Scanning {done}/{total} files")

    return before_each


class Worker:
    """Runs model, generation and postprocessing work on whichever thread calls it (one at a time);
    ``facts()`` and ``loaded`` may be read from any thread."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self._generate: Any = None  # ldm.invoke.generate.Generate, created on first use
        self._facts_lock = threading.Lock()
        self._facts: dict[str, Any] = {}
        self._load_error: str | None = None
        self.loaded = threading.Event()

    # -- model facts --------------------------------------------------------------------------

    def facts(self) -> dict[str, Any]:
        """What the worker told last; its annotator folder read from disk each time, so a weights
        file dropped in counts at once (for the studio's checks and systemConfig's ``missing``)."""
        from ldm.invoke.control.identity import annotator_facts

        with self._facts_lock:
            facts = dict(self._facts)
        if facts:
            facts["annotators"] = annotator_facts(self.settings.root)
        return facts

    def _refresh_facts(self) -> None:
        import torch

        from ldm.invoke.control.identity import annotator_facts

        gen = self._generate
        facts: dict[str, Any] = {
            "model_id": gen.model_name,
            "model_hash": gen.model_hash,
            "model_list": gen.model_manager.list_models(),
            "control_models": {name: {"family": entry["family"], "kind": entry.get("kind", "controlnet"),
                                      "description": entry.get("description", "")}
                               for name, entry in gen.model_manager.control_models().items()},
            "annotators": annotator_facts(gen.root),
            "is_demo_model": gen.is_demo_model,
            "precision": gen.precision,
            "device": gen.device,
            "threads": torch.get_num_threads(),  # float32 pixels depend on it (README, Precision and threads)
            "attention": gen.attention,  # sdpa and sliced round differently; so do compiled kernels
            "compiled": gen.compile,
            "model_error": self._load_error,
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
            facts["postprocessors"] = {kind: {"available": False, "reason": reason} for kind in POSTPROCESS_STATUS}
        with self._facts_lock:
            self._facts = facts

    # -- models -------------------------------------------------------------------------------

    def model_list(self) -> dict[str, Any]:
        """models.yaml's entries (what this worker could load), read without loading a model."""
        return self._engine_object().model_manager.list_models()

    def _engine_object(self) -> Any:
        if self._generate is None:
            from ldm.invoke.generate import Generate

            s = self.settings
            self._generate = Generate(model=s.model, root=s.root, precision=s.precision, device=s.device,
                                      free_gpu_mem=s.free_gpu_mem, compile=s.compile, attention=s.attention)
        return self._generate

    def engine(self) -> Any:
        """The ``Generate`` object with its model loaded, created on first use. When the model cannot
        be loaded the error says which and why, and ``change_model`` can still switch to another."""
        gen = self._engine_object()
        if not self.loaded.is_set():
            try:
                gen.load_model()
            except Exception as exc:
                self._load_error = f"The model {gen.model_name} could not be loaded: {exc}"
                if isinstance(exc, InvokeError) and gen.model_name not in str(exc):
                    raise ModelLoadError(f"{self._load_error}. Choose another model in the Models dialog.") from exc
                raise
            finally:
                self._refresh_facts()
            self._loaded_now()
        return gen

    def _loaded_now(self) -> None:
        self._load_error = None
        self.loaded.set()
        self._refresh_facts()
        log.info("Model %s loaded on %s (%s).", self._generate.model_name, self._generate.device,
                 self._generate.precision)

    def change_model(self, name: str) -> None:
        """Switches the model; on failure the previous one stays (the facts say which is active). It
        does not load the default first, so a default that cannot load never blocks the switch."""
        gen = self._engine_object()
        try:
            gen.set_model(name)
        finally:
            self._refresh_facts()
        if not self.loaded.is_set():
            self._loaded_now()

    def manage_models(self, operation: str, request: dict[str, Any], sink: ProgressSink | None = None) -> dict[str, Any]:
        """``import`` / ``scan`` / ``delete`` / ``default`` on models.yaml; returns what changed. A scan
        reports each file to ``sink`` and stops between files when it is canceled (its report says
        ``canceled`` and how many of the files it checked)."""
        gen = self.engine()
        manager = gen.model_manager
        report: dict[str, Any] = {}
        try:
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
                report = manager.scan_folder(folder, _scan_progress(sink) if sink else None).as_dict()
            elif operation == "delete":
                name = request["model_name"]
                if name == gen.model_name:
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
            else:
                raise InvalidParameterError("operation", f"unknown model operation {operation!r}")
        finally:
            self._refresh_facts()
        return report

    # -- work ---------------------------------------------------------------------------------

    def generate(self, request: GenerationRequest, sink: ProgressSink) -> Iterator[ImageResult]:
        """The request's images, one at a time, as they are finished."""
        from ldm.invoke import metadata as md
        from ldm.invoke.generator.base import Progress

        gen = self.engine()

        def on_step(step: int, total: int, preview: Image.Image | None) -> None:
            sink.raise_if_canceled()
            sink.step(step, total)
            if preview is not None:
                sink.preview(preview)

        def on_intermediate(step: int, image: Image.Image) -> None:
            sink.intermediate(step, md.png_bytes(image))

        progress = Progress(on_step, on_intermediate, request.preview_every, request.intermediate_every)
        sink.raise_if_canceled()
        for done in gen.generate(request, progress, sink.status):
            meta = md.image_metadata(done.image)
            postprocessed = bool((meta.get("image") or {}).get("postprocessing"))
            maps = tuple(md.png_bytes(m) for m in done.control_maps)
            yield ImageResult(md.png_bytes(done.image), meta, done.seed, done.plan.index, postprocessed,
                              done.postprocess_error, maps)

    def torch_device(self) -> Any:
        """The torch device this worker's jobs run on: its engine's, or the one its settings choose."""
        from ldm.invoke.devices import choose_device

        return self._generate.torch_device if self._generate is not None else choose_device(self.settings.device)

    def control_map(self, job: dict[str, Any]) -> dict[str, Any]:
        """The map ``job``'s preprocessor makes of its image (``{image: bytes, preprocessor, settings,
        resize_mode, width?, height?}``), as ``{png, width, height}``. It needs no model and takes no
        turn: it runs on the caller's thread, beside a generation in progress, with this worker's
        annotator weights, on its torch device. A bad field is named ``control.<field>``."""
        from io import BytesIO

        from ldm.invoke.control.preprocess import fit_to, make_map

        settings = {k: int(v) if float(v).is_integer() else v for k, v in (job.get("settings") or {}).items()}
        unit = ControlUnit("preview", ImageRef.from_bytes(job["image"], job.get("url")), str(job["preprocessor"]),
                           settings, resize_mode=str(job.get("resize_mode") or "crop"))
        try:
            made = make_map(unit.validate(0), 0, self.settings.root, self.torch_device())
        except InvalidParameterError as exc:
            raise InvalidParameterError(exc.field.replace("control[0]", "control", 1), exc.message) from None
        if job.get("width") and job.get("height"):
            made = fit_to(made, int(job["width"]), int(job["height"]), unit.resize_mode)
        buffer = BytesIO()
        made.save(buffer, format="PNG")
        return {"png": buffer.getvalue(), "width": made.width, "height": made.height}

    def postprocess(self, request: PostprocessRequest, sink: ProgressSink) -> ImageResult:
        """Every pass of the request on its image, into one result."""
        from ldm.invoke import metadata as md

        gen = self.engine()
        result = request.image.image.copy()
        for step in request.steps:
            sink.raise_if_canceled()
            status = POSTPROCESS_STATUS[step.type]
            sink.status(status)

            def on_tile(done: int, total: int, status: str = status) -> None:
                sink.raise_if_canceled()  # a cancel stops an upscale between tiles, a restoration between faces
                sink.step(done, total, _face_status(done, total) if status == "Restoring Faces" else status)

            result = gen.postprocess(result, step.type, step.engine_options(), progress=on_tile)
        sink.status("Saving Image")
        return ImageResult(md.png_bytes(result), md.image_metadata(result), request.seed, 0, postprocessed=True)
