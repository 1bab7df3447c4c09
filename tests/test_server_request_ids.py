"""The client's request id (ours): sent as the last argument of an event that starts a job, echoed as
``requestId`` in every event of that job, kept with the job's queue row, refused by name when bad."""

from __future__ import annotations

import pytest

from tests.conftest import private_root
from tests.test_server_walkthrough import params, results_of, wait_status

pytestmark = pytest.mark.timeout(300)

# The events of a job that name it, each with its job id.
JOB_EVENTS = ("progressUpdate", "intermediateResult", "generationResult", "postprocessingResult", "error",
              "processingCanceled", "modelChanged", "modelChangeFailed", "modelListChanged")


def events_of_job(client, job_id: str) -> list[tuple[str, dict]]:
    """Every event the client received that names ``job_id`` (queueUpdate entries included)."""
    found = [(name, data) for name, data in client.events
             if name in JOB_EVENTS and isinstance(data, dict) and data.get("jobId") == job_id]
    for name, data in client.events:
        if name == "queueUpdate":
            found += [(name, entry) for entry in data["jobs"] if entry["id"] == job_id]
    return found


def test_two_interleaved_jobs_each_carry_their_own_request_id_and_one_without_carries_none(server, connect):
    client = connect(server.url)
    two = params(iterations=2, progress_latents=True)
    first = client.call("generateImage", two, False, False, "window1-first")
    plain = client.call("generateImage", params(seed=7), False, False)  # a 2.1 client sends no request id
    second = client.call("generateImage", two, False, False, "window1-second")
    assert first["requestId"] == "window1-first" and second["requestId"] == "window1-second"
    assert "requestId" not in plain

    results_of(client, first["jobId"], 2)
    [made] = results_of(client, plain["jobId"], 1)
    results_of(client, second["jobId"], 2)
    upscale = client.call("runPostprocessing", made, {"type": "esrgan", "upscale": [2, 0.5]}, "window1-upscale")
    [upscaled] = results_of(client, upscale["jobId"], 1, event="postprocessingResult")
    assert upscaled["requestId"] == "window1-upscale"

    for ack in (first, second, upscale):
        events = events_of_job(client, ack["jobId"])
        kinds = {name for name, _ in events}
        assert {"progressUpdate", "queueUpdate"} <= kinds and kinds & {"generationResult", "postprocessingResult"}
        assert [name for name, data in events if data.get("requestId") != ack["requestId"]] == [], ack
    assert "intermediateResult" in {name for name, _ in events_of_job(client, first["jobId"])}
    unnamed = events_of_job(client, plain["jobId"])
    assert unnamed and [name for name, data in unnamed if "requestId" in data] == []


def test_a_failed_or_canceled_job_names_its_request_in_its_error_and_cancel(server, connect):
    client = connect(server.url)
    long = client.call("generateImage", params(steps=200, progress_latents=False), False, False, "long-one")
    client.wait_for("progressUpdate", lambda d: d.get("jobId") == long["jobId"] and d["currentStep"] >= 1, timeout=120)
    client.emit("cancel", long["jobId"])
    canceled = client.wait_for("processingCanceled", lambda d: d.get("jobId") == long["jobId"], timeout=60)[0]
    assert canceled["requestId"] == "long-one"
    assert wait_status(client, long["jobId"], "canceled")["requestId"] == "long-one"

    # A scan that fails on the worker: the error (for the asker only) names the request.
    scan = client.call("scanModelFolder", str(server.studio.outdir / "no-such-folder"), "scan-nothing")
    error = client.wait_for("error", lambda d: d.get("jobId") == scan["jobId"], timeout=120)[0]
    assert error["requestId"] == "scan-nothing" and "no-such-folder" in error["message"]


def test_model_jobs_echo_the_request_id_in_their_model_events(server, connect, tmp_path):
    client, other = connect(server.url), connect(server.url)
    empty = tmp_path / "no-models-here"
    empty.mkdir()
    scan = client.call("scanModelFolder", str(empty), "scan-empty")
    for who in (client, other):  # the asker's copy and everyone else's
        changed = who.wait_for("modelListChanged", lambda d: d.get("jobId") == scan["jobId"], timeout=120)[0]
        assert changed["requestId"] == "scan-empty"

    switch = client.call("requestModelChange", "demo-alt", "switch-alt")
    changed = client.wait_for("modelChanged", lambda d: d.get("jobId") == switch["jobId"], timeout=120)[0]
    assert changed["model_name"] == "demo-alt" and changed["requestId"] == "switch-alt"
    back = client.call("requestModelChange", "demo", "switch-back")
    client.wait_for("modelChanged", lambda d: d.get("requestId") == "switch-back", timeout=120)
    assert {d.get("requestId") for d in client.of("progressUpdate") if d.get("jobId") == back["jobId"]} == {"switch-back"}

    missing = client.call("requestModelChange", "no-such-model", "switch-nowhere")
    failed = client.wait_for("modelChangeFailed", lambda d: d.get("jobId") == missing["jobId"], timeout=60)[0]
    assert failed["requestId"] == "switch-nowhere"


@pytest.mark.parametrize("bad, why", [
    ("x" * 101, "at most 100 characters"),
    ("", "at least 1 character"),
    ("two words", "letters, digits"),
    ("<script>", "letters, digits"),
    (42, "string"),
])
def test_a_bad_request_id_is_refused_naming_the_field_and_the_server_carries_on(server, connect, bad, why):
    client = connect(server.url)
    for event, args in (("generateImage", (params(), False, False, bad)),
                        ("runPostprocessing", ({"url": "outputs/x.png"}, {"type": "esrgan", "upscale": [2, 0.5]}, bad)),
                        ("requestModelChange", ("demo", bad)),
                        ("importModel", ("/nowhere.safetensors", None, False, bad)),
                        ("scanModelFolder", ("/nowhere", bad)),
                        ("deleteModel", ("demo", bad)),
                        ("setDefaultModel", ("demo", bad))):
        mark = client.mark()
        answer = client.call(event, *args)
        error = client.wait_for("error", after=mark)[0]
        assert error["field"] == "request_id" and "request_id" in error["message"] and why in error["message"], error
        assert answer == {"error": error["message"], "field": "request_id"}
    assert "jobId" in client.call("generateImage", params(steps=1), False, False, "fine-after-all")


def test_a_resumed_job_still_echoes_its_request_id(server_factory, connect):
    root = private_root(server_factory.shared_root, server_factory.base / "one-root")
    first = server_factory(root=root)
    assert first.studio.wait_until_loaded(120)
    client = connect(first.url)
    running = client.call("generateImage", params(steps=400, progress_latents=False), False, False)
    waiting = client.call("generateImage", params(seed=99), False, False, "survives-restart")
    client.wait_for("progressUpdate", lambda d: d.get("jobId") == running["jobId"] and d["currentStep"] >= 1,
                    timeout=120)
    first.shutdown(cancel_running=True)  # the waiting job stays in the queue database

    second = server_factory(root=root)
    client = connect(second.url)
    client.emit("requestQueue")
    paused = wait_status(client, waiting["jobId"], "paused")
    assert paused["requestId"] == "survives-restart"
    client.emit("resumeQueue")
    [result] = results_of(client, waiting["jobId"], 1, timeout=180)
    assert result["requestId"] == "survives-restart"
    events = events_of_job(client, waiting["jobId"])
    assert {"progressUpdate", "generationResult", "queueUpdate"} <= {name for name, _ in events}
    assert [name for name, data in events if data.get("requestId") != "survives-restart"] == []

