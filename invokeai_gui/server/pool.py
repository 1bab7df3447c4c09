"""A pool of workers on Ray (``--cluster``): one actor per worker, each a ``Worker`` in its own process
on some node, and on the studio's side one ``RemoteWorker`` per actor that offers the in-process
worker's methods. The queue decides what runs; the pool says which worker suits a job."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from io import BytesIO
from typing import Any

from PIL import Image

from ldm.invoke.errors import GenerationCanceled, InvalidParameterError, ModelLoadError, UserError
from ldm.invoke.request import GenerationRequest, PostprocessRequest

from .config import ServerConfig
from .jobs import Job, WorkerLost
from .ray_worker import WorkerActor
from .worker import ImageResult, ProgressSink

log = logging.getLogger(__name__)

CLUSTER_EXTRA = 'the cluster flags need Ray: pip install "invokeai-desktop[cluster]"'
# Ray on Linux names a node by its network address, even for a private cluster; this keeps every
# socket of a `--cluster local` Ray on 127.0.0.1 (checked with ray 2.60 by tests/test_cluster.py).
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
ACTOR_THREADS = 6  # generate + cancel + describe + control maps (previews) at the same time


class WorkerError(UserError):
    """What went wrong on a worker, as the worker said it."""


def keep_ray_on_loopback() -> None:
    """Set before Ray is imported: its constants are read at import time."""
    os.environ.update(LOOPBACK_ENV)


class RemoteWorker:
    """One actor, seen as a ``Worker``: ``generate`` / ``postprocess`` stream its messages into a
    ``ProgressSink``; a dead actor raises ``WorkerLost``."""

    def __init__(self, pool: WorkerPool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.name = f"worker-{index}"
        self.actor: Any = None
        self.loaded = threading.Event()
        self.description: dict[str, Any] = {}
        self.alive = True  # False from its death until it is back (workersUpdate says so)

    # -- the Worker interface -----------------------------------------------------------------

    def facts(self) -> dict[str, Any]:
        return dict(self.description.get("facts") or {})

    def model_list(self) -> dict[str, Any]:
        return dict(self.description.get("models") or {})

    @property
    def loaded_model(self) -> str | None:
        return self.description.get("loaded_model")

    def engine(self) -> None:
        self._answer(self.actor.load.remote())

    def change_model(self, name: str) -> None:
        self._answer(self.actor.change_model.remote(name))

    def manage_models(self, operation: str, request: dict[str, Any], sink: ProgressSink) -> dict[str, Any]:
        """The operation's progress streams back and a cancel reaches it (a scan stops between files,
        as in-process)."""
        values = list(self._stream("manage_models", {"operation": operation, "request": request}, sink))
        return values[0] if values else {}

    def generate(self, request: GenerationRequest, sink: ProgressSink) -> Iterator[ImageResult]:
        yield from self._stream("generate", request.to_json(), sink)

    def control_map(self, job: dict[str, Any]) -> dict[str, Any]:
        """The actor makes the map beside whatever it is generating (it has the annotator weights)."""
        import ray

        try:
            answer = _get(self.actor.control_map.remote(job))
        except ray.exceptions.RayTaskError:
            raise
        except ray.exceptions.RayError as exc:
            raise WorkerLost(f"{self.name} died: {type(exc).__name__}") from None
        if "error" in answer:
            if answer.get("field"):
                raise InvalidParameterError(answer["field"], answer["error"])
            raise WorkerError(answer["error"])
        return answer["value"]

    def postprocess(self, request: PostprocessRequest, sink: ProgressSink) -> ImageResult:
        results = list(self._stream("postprocess", request.to_json(), sink))
        if not results:
            raise WorkerError(f"{self.name} returned no image.")
        return results[0]

    # -- the actor ----------------------------------------------------------------------------

    def spawn(self) -> None:
        """A new actor for this slot (Ray restarts a crashed one itself; this is for one gone for good)."""
        self.actor = self.pool.actor_class.remote(self.name, self.pool.settings, self.pool.threads)
        self.loaded.clear()

    def refresh(self, timeout: float = 300) -> None:

        self._update(_get(self.actor.describe.remote(), timeout))

    def revive(self) -> None:
        """After a death: wait for Ray's restart, or start a fresh actor when it will not come back."""
        import ray

        try:
            self.refresh(timeout=120)
            return
        except ray.exceptions.GetTimeoutError:
            log.warning("%s did not come back within 2 minutes; starting a new one.", self.name)
        except ray.exceptions.RayError as exc:
            log.warning("%s is gone (%s); starting a new one.", self.name, type(exc).__name__)
        self.spawn()
        self.refresh()

    def _update(self, description: dict[str, Any]) -> None:
        changed = description != self.description
        self.description = description
        if description.get("loaded_model"):
            self.loaded.set()
            self.pool.loaded.set()
        if changed:
            self.pool.on_change()

    def load_in_background(self) -> None:
        """Loads its model now (jobs wait for it on the actor); its description comes back when done."""
        def load() -> None:
            try:
                self.engine()
            except Exception as exc:
                log.warning("%s could not load its model: %s", self.name, exc)

        threading.Thread(target=load, name=f"{self.name}-load", daemon=True).start()

    def _answer(self, ref: Any) -> Any:
        import ray

        try:
            answer = _get(ref)
        except ray.exceptions.RayTaskError:
            raise
        except ray.exceptions.RayError as exc:
            raise WorkerLost(f"{self.name} died: {type(exc).__name__}") from None
        self._update(answer["worker"])
        if "error" in answer:
            raise WorkerError(answer["error"])
        return answer["value"]

    def _stream(self, method: str, request: dict[str, Any], sink: ProgressSink) -> Iterator[Any]:
        """The actor's results as they come (images; a model operation's report), its progress to ``sink``."""
        import ray

        task = uuid.uuid4().hex
        stream = getattr(self.actor, method).options(num_returns="streaming").remote(task, request)
        done = threading.Event()
        forwarder = threading.Thread(target=self._forward_cancel, args=(sink, task, done), daemon=True)
        forwarder.start()
        try:
            for ref in stream:
                message = ray.get(ref)
                result = self._deliver(message, sink)
                if result is not None:
                    yield result
        except ray.exceptions.RayTaskError:
            raise
        except ray.exceptions.RayError as exc:
            raise WorkerLost(f"{self.name} died: {type(exc).__name__}") from None
        finally:
            done.set()

    def _forward_cancel(self, sink: ProgressSink, task: str, done: threading.Event) -> None:
        """Cancel reaches the actor at once (``ray.cancel`` does not stop a running actor task; the
        worker checks this flag between steps)."""
        while not done.wait(0.05):
            try:
                sink.raise_if_canceled()
            except GenerationCanceled:
                self.actor.cancel.remote(task)
                return

    def _deliver(self, message: dict[str, Any], sink: ProgressSink) -> Any:
        kind = message["kind"]
        if kind == "value":
            return message["value"]
        if kind == "step":
            sink.step(message["step"], message["total"], message["status"])
        elif kind == "status":
            sink.status(message["text"])
        elif kind == "preview":
            with Image.open(BytesIO(message["png"])) as image:
                image.load()
                sink.preview(image.copy())
        elif kind == "intermediate":
            sink.intermediate(message["step"], message["png"])
        elif kind == "result":
            return ImageResult(message["png"], message["metadata"], message["seed"], message["index"],
                               message["postprocessed"], message["error"], tuple(message.get("control_maps", ())))
        elif kind == "canceled":
            raise GenerationCanceled()
        elif kind == "failed":
            raise WorkerError(message["message"])
        elif kind == "worker":
            self._update(message["worker"])
        return None


class WorkerPool:
    """The workers of ``--cluster``; ``facts()`` and ``loaded`` stand for the studio's current model."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.workers: list[RemoteWorker] = []
        self.loaded = threading.Event()
        self.current_model: str | None = config.model
        self.threads = config.cluster_threads
        local = config.cluster == "local"
        # `local` workers share the studio's root; on a cluster each node resolves models in its own.
        self.settings = {"root": str(config.root) if local else None, "model": config.model,
                         "precision": config.precision, "device": config.device,
                         "free_gpu_mem": config.free_gpu_mem, "compile": config.compile,
                         "attention": config.attention}
        self.actor_class: Any = None
        self.on_change: Callable[[], None] = lambda: None  # a worker's description changed (workersUpdate)
        self._started_ray = False
        self._stopped = False

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Joins (or, for ``local``, starts) Ray, then starts the workers and learns their models."""
        address = self.config.cluster
        if address == "local":
            keep_ray_on_loopback()
        import ray

        count = self.config.cluster_workers
        gpus = 0
        if not ray.is_initialized():
            if address == "local":
                gpus = _local_gpus()
                count = count or max(1, gpus)
                threads = self.threads or max(1, (os.cpu_count() or 1) // count)
                ray.init(address="local", include_dashboard=False, _node_ip_address="127.0.0.1",
                         num_cpus=max(os.cpu_count() or 1, count * threads), num_gpus=gpus,
                         log_to_driver=False, configure_logging=False)
            else:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
            self._started_ray = True
        gpus = int(ray.cluster_resources().get("GPU", 0))
        count = count or max(1, gpus)
        if not gpus and not self.threads:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            self.threads = max(1, cpus // count)
        resources: dict[str, Any] = {"num_gpus": 1, "num_cpus": 1} if gpus else {"num_cpus": self.threads}
        # SPREAD: workers go to different nodes while there are nodes to go to (one per machine).
        self.actor_class = ray.remote(max_restarts=-1, max_task_retries=0, max_concurrency=ACTOR_THREADS,
                                      scheduling_strategy="SPREAD", **resources)(WorkerActor)
        self.workers = [RemoteWorker(self, i) for i in range(count)]
        for worker in self.workers:
            worker.spawn()
        for worker in self.workers:
            worker.refresh()
        for worker in self.workers:
            worker.load_in_background()
        if self.current_model is None and self.workers:
            self.current_model = self.workers[0].facts().get("model_id") or _default_of(self.workers[0])
        log.info("%d worker(s) on Ray: %s", count, ", ".join(
            f"{w.name} on {w.description.get('host')}" for w in self.workers))

    def stop(self) -> None:
        import ray

        self._stopped = True
        for worker in self.workers:
            try:
                ray.kill(worker.actor)
            except Exception:
                pass
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False

    # -- what the studio asks -----------------------------------------------------------------

    def facts(self) -> dict[str, Any]:
        """A worker's facts with the current model: one that has it loaded, else the first."""
        holding = [w for w in self.workers if w.loaded_model == self.current_model] or self.workers
        facts = holding[0].facts() if holding else {}
        if self.current_model:
            facts["model_id"] = self.current_model
        return facts

    def control_map(self, job: dict[str, Any]) -> dict[str, Any]:
        """A preview map, made on a live worker (idle or not: the actor runs it beside its job)."""
        alive = [w for w in self.workers if w.alive] or self.workers
        if not alive:
            raise WorkerError("No worker is running to make the map.")
        return alive[0].control_map(job)

    def model_of(self, job: Job) -> str | None:
        """The model a job needs (a model change: the model it asks for)."""
        if job.kind == "change_model":
            return job.payload.get("model_name")
        return job.payload.get("model") if job.kind == "generate" else None

    def check_model(self, name: str | None) -> None:
        if name is None or any(name in w.model_list() for w in self.workers):
            return
        known = "; ".join(f"{w.name} on {w.description.get('host', '?')} has {', '.join(w.model_list()) or 'none'}"
                          for w in self.workers)
        raise ModelLoadError(f"No worker can load the model {name!r} ({known}).")

    def choose(self, job: Job, idle: list[int]) -> int | None:
        """An idle worker for ``job``: one that has its model loaded, else one that can load it (a
        worker it killed only when no other is idle); None when only busy workers have the model."""
        model = self.model_of(job)
        lost_on = job.payload.get("lost_on", [])
        candidates = [i for i in idle if i not in lost_on] or idle
        if model is None:
            return candidates[0]
        loaded = [i for i in candidates if self.workers[i].loaded_model == model]
        if loaded:
            return loaded[0]
        able = [i for i in candidates if model in self.workers[i].model_list()]
        if able:
            return able[0]
        if any(model in w.model_list() for w in self.workers):
            return None  # a busy worker has it: wait for that one
        return candidates[0]  # no worker has it: the job fails there, naming the model

    def revive(self, slot: int) -> None:
        if not self._stopped:  # a worker killed by the studio's own shutdown stays dead
            self.workers[slot].revive()


def _get(ref: Any, timeout: float | None = None) -> Any:
    """``ray.get`` in short waits, so that Ctrl-C still stops a studio waiting for a worker."""
    import ray

    deadline = None if timeout is None else time.monotonic() + timeout
    while not ray.wait([ref], timeout=0.25)[0]:
        if deadline is not None and time.monotonic() > deadline:
            raise ray.exceptions.GetTimeoutError(f"no answer within {timeout} s")
    return ray.get(ref)


def _default_of(worker: RemoteWorker) -> str | None:
    models = worker.model_list()
    defaults = [name for name, entry in models.items() if entry.get("default")]
    return defaults[0] if defaults else next(iter(models), None)


def _local_gpus() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:
        return 0


__all__ = ["CLUSTER_EXTRA", "RemoteWorker", "WorkerError", "WorkerPool", "keep_ray_on_loopback"]
