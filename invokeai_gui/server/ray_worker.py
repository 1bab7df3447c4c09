"""The worker as a Ray actor: the same ``Worker`` in its own process (on this machine or another),
taking requests by value and streaming small messages back: progress, previews, finished images.

Nothing here imports Ray (``pool.py`` wraps the class with ``ray.remote``) or Flask; the studio on the
other end turns the messages back into a ``ProgressSink``'s calls and alone writes the files."""

from __future__ import annotations

import os
import queue
import socket
import threading
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image

from ldm.invoke.errors import GenerationCanceled, is_user_error, user_message
from ldm.invoke.request import GenerationRequest, PostprocessRequest

from .worker import ImageResult, Worker, WorkerSettings

Message = dict[str, Any]
_END = object()


class _StreamSink:
    """A ``ProgressSink`` that queues each call as a message; cancel comes from the actor's flag."""

    def __init__(self, out: queue.Queue, canceled: Callable[[], bool]) -> None:
        self._out = out
        self._canceled = canceled

    def raise_if_canceled(self) -> None:
        if self._canceled():
            raise GenerationCanceled()

    def status(self, text: str) -> None:
        self._out.put({"kind": "status", "text": text})

    def step(self, step: int, total: int, status: str = "Generating") -> None:
        self._out.put({"kind": "step", "step": step, "total": total, "status": status})

    def preview(self, image: Image.Image) -> None:
        buffer = BytesIO()
        image.save(buffer, format="PNG", compress_level=1)
        self._out.put({"kind": "preview", "png": buffer.getvalue()})

    def intermediate(self, step: int, png: bytes) -> None:
        self._out.put({"kind": "intermediate", "step": step, "png": png})


class WorkerActor:
    """One worker process of the pool. Calls that use the engine take turns (one lock); ``describe``
    and ``cancel`` answer at once, so the actor runs with a few threads (``max_concurrency``)."""

    def __init__(self, name: str, settings: dict[str, Any], threads: int | None) -> None:
        from ldm.invoke.globals import resolve_root

        self.name = name
        self.threads = threads
        root = settings.get("root")  # None: this node's own root dir (INVOKEAI_ROOT or the default)
        self.worker = Worker(WorkerSettings(
            root=Path(root) if root else resolve_root(None), model=settings.get("model"),
            precision=settings.get("precision", "auto"), device=settings.get("device", "auto"),
            free_gpu_mem=bool(settings.get("free_gpu_mem")), compile=bool(settings.get("compile")),
            attention=settings.get("attention", "auto")))
        self._lock = threading.Lock()
        self._canceled: set[str] = set()
        self._set_threads()

    def _set_threads(self) -> int:
        """Torch's thread count, set explicitly (Ray starts actors with OMP_NUM_THREADS=1), per calling thread."""
        import torch

        if self.threads:
            torch.set_num_threads(self.threads)
        return torch.get_num_threads()

    # -- facts --------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """Who this worker is and which models it can load (models.yaml names with their hashes)."""
        facts = self.worker.facts()
        try:
            models = self.worker.model_list()
        except Exception as exc:  # a broken models.yaml: the worker can load nothing
            models, facts = {}, {**facts, "model_error": user_message(exc)}
        return {"name": self.name, "host": socket.gethostname(), "pid": os.getpid(), "threads": self.threads,
                "root": str(self.worker.settings.root),
                "models": models, "loaded_model": facts.get("model_id") if self.worker.loaded.is_set() else None,
                "facts": facts}

    def cancel(self, task: str) -> None:
        self._canceled.add(task)

    # -- model work ---------------------------------------------------------------------------

    def load(self) -> dict[str, Any]:
        return self._call(self.worker.engine)

    def change_model(self, name: str) -> dict[str, Any]:
        return self._call(lambda: self.worker.change_model(name))

    def manage_models(self, task: str, job: dict[str, Any]) -> Iterator[Message]:
        """A model operation whose progress streams back and which a cancel stops between files (a
        scan); its report comes as one ``value`` message."""
        yield from self._stream(task, lambda sink: iter([self.worker.manage_models(job["operation"], job["request"],
                                                                                   sink)]))

    def _call(self, work: Callable[[], Any]) -> dict[str, Any]:
        """``{"value"}`` or ``{"error"}`` (the user's sentence), plus the worker's description."""
        with self._lock:
            self._set_threads()
            try:
                value = work()
                answer: dict[str, Any] = {"value": value if isinstance(value, dict) else None}
            except Exception as exc:
                answer = {"error": user_message(exc), "user_error": is_user_error(exc)}
        return {**answer, "worker": self.describe()}

    def control_map(self, job: dict[str, Any]) -> dict[str, Any]:
        """A preprocessor's map (``Worker.control_map``), made at once on its own actor thread, beside a
        generation that holds the engine: ``{"value"}``, or ``{"error", "field"}``."""
        from ldm.invoke.errors import InvalidParameterError

        self._set_threads()
        try:
            return {"value": self.worker.control_map(job)}
        except InvalidParameterError as exc:
            return {"error": exc.message, "field": exc.field}
        except Exception as exc:
            return {"error": user_message(exc, "The preprocessor"), "field": None}

    # -- generation (streamed) ----------------------------------------------------------------

    def generate(self, task: str, request: dict[str, Any]) -> Iterator[Message]:
        """The request's progress and images as messages, then ``done``, ``canceled`` or ``failed``."""
        req = GenerationRequest.from_json(request)
        yield from self._stream(task, lambda sink: self.worker.generate(req, sink))

    def postprocess(self, task: str, request: dict[str, Any]) -> Iterator[Message]:
        req = PostprocessRequest.from_json(request)
        yield from self._stream(task, lambda sink: iter([self.worker.postprocess(req, sink)]))

    def _stream(self, task: str, work: Callable[[_StreamSink], Iterator[Any]]) -> Iterator[Message]:
        out: queue.Queue = queue.Queue()
        sink = _StreamSink(out, lambda: task in self._canceled)

        def produce() -> None:
            with self._lock:
                threads = self._set_threads()  # torch's thread count is per thread: set it in the one that works
                try:
                    for result in work(sink):
                        if isinstance(result, ImageResult):
                            out.put({"kind": "result", **self._stamped(result, threads)})
                        else:  # a model operation's report
                            out.put({"kind": "value", "value": result})
                    out.put({"kind": "done"})
                except GenerationCanceled:
                    out.put({"kind": "canceled"})
                except Exception as exc:
                    out.put({"kind": "failed", "message": user_message(exc), "user_error": is_user_error(exc)})
                finally:
                    out.put(_END)

        threading.Thread(target=produce, name=f"work-{task[:8]}", daemon=True).start()
        try:
            while (message := out.get()) is not _END:
                yield message
        finally:
            self._canceled.discard(task)
        yield {"kind": "worker", "worker": self.describe()}

    def _stamped(self, result: ImageResult, threads: int) -> dict[str, Any]:
        """The result with the worker recorded in its recipe (which host, how many torch threads)."""
        from ldm.invoke import metadata as md

        metadata = dict(result.metadata)
        if metadata:
            metadata["worker"] = {"name": self.name, "host": socket.gethostname(), "torch_threads": threads}
            with Image.open(BytesIO(result.png)) as image:
                image.load()
                png = md.png_bytes(md.attach_metadata(image, metadata))
        else:
            png = result.png
        return {"png": png, "metadata": metadata, "seed": result.seed, "index": result.index,
                "postprocessed": result.postprocessed, "error": result.error, "control_maps": result.control_maps}


__all__ = ["WorkerActor"]
