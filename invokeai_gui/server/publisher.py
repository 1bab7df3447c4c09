"""Messages to clients: ``Publisher`` broadcasts job and image events and replies to one client, and
``ProgressReport`` is the ``progressUpdate`` stream of one job."""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from io import BytesIO
from typing import Any, Protocol

from PIL import Image

log = logging.getLogger(__name__)


class Emitter(Protocol):
    """What Flask-SocketIO's ``SocketIO`` offers for sending (so nothing here imports Flask)."""

    def emit(self, event: str, data: Any = None, **kwargs: Any) -> None: ...


Listener = Callable[[str, Any], None]


class Publisher:
    """Sends to Socket.IO clients; in-process listeners (the desktop window) may follow broadcasts too."""

    def __init__(self, emitter: Emitter) -> None:
        self._emitter = emitter
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Calls ``listener(event, data)`` after each broadcast; returns the function that stops it."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def broadcast(self, event: str, data: Any = None, skip_sid: str | None = None) -> None:
        """Job and image events go to every client, so all open windows stay in step."""
        self._emitter.emit(event, data, skip_sid=skip_sid)
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event, data)
            except Exception:
                log.exception("A listener of %s failed.", event)

    def reply(self, sid: str, event: str, data: Any = None) -> None:
        """Answers to one client's request go to that client only."""
        self._emitter.emit(event, data, to=sid)


class ProgressReport:
    """The ``progressUpdate`` payloads of one job, with ``itPerSec`` and ``eta`` added."""

    def __init__(self, publisher: Publisher, job_id: str, total_iterations: int, total_steps: int,
                 request_id: str | None = None, worker: str | None = None,
                 others_running: Callable[[], bool] = lambda: False) -> None:
        self.publisher = publisher
        self.job_id = job_id
        self.request_id = request_id  # ours: the client's request id, echoed in each update
        self.worker = worker  # ours: the name of the worker running the job
        # 2.1's "isProcessing: false" means the studio is idle: a job that ends beside others says true.
        self.others_running = others_running
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
        payload: dict[str, Any] = {
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
            **({"worker": self.worker} if self.worker else {}),
        }
        if self.request_id:
            payload["requestId"] = self.request_id
        return payload

    def send(self) -> None:
        self.publisher.broadcast("progressUpdate", self.payload())

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
        self.status, self.has_error, self.has_steps = status, has_error, False
        self.processing = self.others_running()
        self.current_step = self.total_steps = self.current_iteration = self.total_iterations = 0
        self.it_per_sec = 0.0
        self.send()


def preview_data_url(preview: Image.Image, width: int, height: int) -> str:
    """The engine's latent preview at latent resolution (1/8), which holds all its detail, as a PNG data URL."""
    small = preview.resize((max(1, width // 8), max(1, height // 8)), Image.Resampling.NEAREST)
    buffer = BytesIO()
    small.save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
