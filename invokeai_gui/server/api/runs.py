"""The HTTP APIs' side of the queue: submit a request, wait for its job, read back its pictures;
and follow every job's progress (the studio's broadcasts) for AUTOMATIC1111's ``/progress``."""

from __future__ import annotations

import base64
import binascii
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import has_request_context
from flask import request as http_request

from ldm.invoke.request import GenerationRequest, PostprocessRequest

from ..jobs import STUDIO_CLIENT, Job, client_key
from ..studio import Studio

SUMMARY_PREFIX = "API "
WAIT_SECONDS = 24 * 3600  # an HTTP caller waits as long as its job takes (A1111's calls block too)


@dataclass
class Picture:
    """One image a job made: its PNG bytes, the seed it is named after, its gallery URL when saved."""

    png: bytes
    seed: int
    url: str | None = None


@dataclass
class Outcome:
    job: Job
    pictures: list[Picture]

    @property
    def interrupted(self) -> bool:
        return self.job.status == "canceled"


@dataclass
class Progress:
    """What the last ``progressUpdate`` and preview of the running job said."""

    job_id: str | None = None
    step: int = 0
    steps: int = 0
    iteration: int = 0
    iterations: int = 0
    status: str = ""
    eta: float | None = None
    started: float = field(default_factory=time.monotonic)
    preview: str | None = None  # base64 PNG of the latest preview


class ApiRuns:
    """Runs API requests through the studio's queue and keeps the progress of the running job."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self._lock = threading.Lock()
        self._progress = Progress()
        self.clip_skip = 0  # AUTOMATIC1111's CLIP_stop_at_last_layers − 1, set through POST /options
        studio.publisher.subscribe(self._follow)

    # -- running ----------------------------------------------------------------------------------

    def generate(self, request: GenerationRequest, save: bool, label: str = "") -> Outcome:
        """Runs the request; a model it names is used for this job only (A1111's ``override_settings``
        restore afterwards, as its default is): the studio's model is switched back after it."""
        current = self.studio.system_config().get("model_id")
        job = self.studio.submit_generation(request, summary_prefix=SUMMARY_PREFIX + label, save=save,
                                            client=self._client())
        outcome = self._outcome(job)
        if request.model and current and request.model != current:
            self.change_model(current)
        return outcome

    def postprocess(self, request: PostprocessRequest, save: bool) -> Outcome:
        job = self.studio.submit_postprocessing(request, summary_prefix=SUMMARY_PREFIX, save=save, client=self._client())
        return self._outcome(job)

    def _outcome(self, job: Job) -> Outcome:
        self.studio.jobs.wait_finished(job, WAIT_SECONDS)
        pictures = []
        for result in job.results:
            if "png" in result:
                pictures.append(Picture(result["png"], int(result.get("seed", 0))))
            else:
                path = self.studio.resolve_output_url(result["url"])
                pictures.append(Picture(path.read_bytes(), _seed_of_info(result), result["url"]))
        return Outcome(job, pictures)

    def _client(self) -> str:
        return api_client(bool(self.studio.config.api_auth))

    def change_model(self, name: str) -> Job:
        job = self.studio.request_model_change(name, client=self._client())
        self.studio.jobs.wait_finished(job, WAIT_SECONDS)
        return job

    # -- progress ---------------------------------------------------------------------------------

    def _follow(self, event: str, data: Any) -> None:
        if not isinstance(data, dict):
            return
        with self._lock:
            if event == "progressUpdate":
                job_id = data.get("jobId")
                if not data.get("isProcessing"):
                    if job_id == self._progress.job_id:
                        self._progress = Progress()
                    return
                if job_id != self._progress.job_id:
                    self._progress = Progress(job_id=job_id)
                p = self._progress
                p.step, p.steps = int(data.get("currentStep") or 0), int(data.get("totalSteps") or 0)
                p.iteration, p.iterations = int(data.get("currentIteration") or 0), int(data.get("totalIterations") or 0)
                p.status, p.eta = str(data.get("currentStatus") or ""), data.get("eta")
            elif event == "intermediateResult" and data.get("jobId") == self._progress.job_id:
                self._progress.preview = self._preview_base64(data)

    def _preview_base64(self, data: dict[str, Any]) -> str | None:
        url = str(data.get("url") or "")
        if url.startswith("data:"):
            return url.split(",", 1)[-1]
        try:
            return base64.b64encode(self.studio.resolve_output_url(url).read_bytes()).decode("ascii")
        except (OSError, ValueError):
            return None

    def progress(self) -> Progress:
        with self._lock:
            p = self._progress
            return Progress(p.job_id, p.step, p.steps, p.iteration, p.iterations, p.status, p.eta, p.started, p.preview)


def api_client(basic_checked: bool) -> str:
    """The client an HTTP API call's jobs count as (their turns in the queue): its HTTP Basic user
    (when ``--api-auth`` is set, so the user was checked), else its remote address."""
    if not has_request_context():
        return STUDIO_CLIENT
    scheme, _, value = http_request.headers.get("Authorization", "").strip().partition(" ")
    if basic_checked and scheme.lower() == "basic":
        try:
            user = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, ValueError):
            user = ""
        if user:
            return client_key("api-user", user)
    return client_key("api-address", http_request.remote_addr or "unknown")


def _seed_of_info(info: dict[str, Any]) -> int:
    """The seed of a saved result, from its NNNNNN.SEED.png name."""
    from ldm.invoke.files import parse_result_name

    parsed = parse_result_name(str(info.get("url", "")).rpartition("/")[2])
    return parsed[1] if parsed else 0


__all__ = ["ApiRuns", "Outcome", "Picture", "Progress"]
