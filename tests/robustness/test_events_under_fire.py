"""A standing suite for the Socket.IO surface: a seeded fuzz of every client event (each gets its
answer or an ``error`` within 2 s, and the server lives on), and four clients queueing ten jobs each."""

from __future__ import annotations

import base64
import os
import random
import time
from io import BytesIO

import pytest
import requests
from PIL import Image

from tests.test_server_walkthrough import params

CASES = 320
ANSWER_WITHIN = 2.0

# Every client → server event, with one valid set of positional arguments to mutate.
def _png() -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buffer, format="PNG")
    return buffer.getvalue()


VALID: dict[str, tuple] = {
    "requestSystemConfig": (),
    "requestModelChange": ("demo", "fuzz-change"),  # each job-starting event may end with a request id
    "requestImages": ("result", None),
    "requestLatestImages": ("result", 0),
    "generateImage": (params(steps=1), False, False, "fuzz-generate"),
    "runPostprocessing": ({"url": "outputs/000001.1.png"}, {"type": "esrgan", "upscale": [2, 0.5]}, "fuzz-upscale"),
    "cancel": (None,),
    "deleteImage": ("outputs/nothing-here.png", "uuid", "result"),
    "uploadImage": (_png(), "fuzz.png", "img2img"),
    "uploadMaskImage": (_png(), "mask.png"),
    "uploadInitialImage": (_png(), "init.png"),
    "resumeQueue": (),
    "requestQueue": (),
    "importModel": ("/nonexistent/model.safetensors", "fuzzed", False, "fuzz-import"),
    "scanModelFolder": ("/nonexistent/folder", "fuzz-scan"),
    "deleteModel": ("no-such-model", "fuzz-delete"),
    "setDefaultModel": ("no-such-model", "fuzz-default"),
}

NASTY = [None, True, -1, 0, 2**63, -2**31, 1e308, float("inf"), "", "x" * 5000, "../../etc/passwd",
         "/etc/passwd", "outputs/../../secret.png", "outputs/%2e%2e/x.png", "\x00", "ünï ✓", [], [1, [2, [3]]],
         {}, {"url": None}, {"__proto__": 1}, b"\x89PNG\r\n\x1a\n garbage", b"", "data:image/png;base64,AAAA"]


def _not_a_real_folder(value: object) -> object:
    """Fuzzed paths must not send the model scanner through a real folder of this machine."""
    if isinstance(value, str) and value and os.path.exists(value):
        return "/nonexistent/" + value.strip("/").replace("/", "_")
    return value


def mutate(rng: random.Random, event: str) -> tuple:
    args = list(VALID[event])
    roll = rng.random()
    if roll < 0.15:
        return tuple(rng.choice(NASTY) for _ in range(rng.randint(0, 4)))  # arguments of any shape
    if roll < 0.25 or not args:
        return tuple(args + [rng.choice(NASTY)])  # one argument too many
    i = rng.randrange(len(args))
    value = args[i]
    if isinstance(value, dict) and value and rng.random() < 0.7:
        value = dict(value)
        key = rng.choice(list(value))
        if rng.random() < 0.2:
            del value[key]
        else:
            value[key] = rng.choice(NASTY)
        if rng.random() < 0.2:
            value[rng.choice(["bogus", "init_img", "init_mask", "bounding_box", "type"])] = rng.choice(NASTY)
    else:
        value = rng.choice(NASTY)
    args[i] = _not_a_real_folder(value)
    if event == "generateImage" and isinstance(args[0], dict):
        args[0] = {**args[0], "steps": 1, "iterations": 1}  # whatever it queues stays cheap
    return tuple(args)


@pytest.fixture
def quiet_server(server_factory):
    return server_factory()


def test_every_event_fuzzed_gets_its_answer_or_an_error_within_two_seconds(quiet_server, connect):
    server = quiet_server
    assert server.studio.wait_until_loaded(120)
    client = connect(server.url)
    rng = random.Random(20261201)
    events = sorted(VALID)
    slow: list[str] = []
    for case in range(CASES):
        event = events[case % len(events)]
        args = mutate(rng, event)
        mark = client.mark()
        started = time.monotonic()
        try:
            client.client.call(event, args if len(args) != 1 else args[0], timeout=ANSWER_WITHIN + 1)
        except Exception as exc:  # a timeout is the failure this test exists for
            slow.append(f"case {case} {event}{args!r:.200}: {type(exc).__name__}")
            continue
        if time.monotonic() - started > ANSWER_WITHIN:
            slow.append(f"case {case} {event}: {time.monotonic() - started:.1f}s")
        for name, data in client.events[mark:]:
            if name == "error":
                assert isinstance(data, dict) and isinstance(data.get("message"), str) and data["message"]
                assert "Traceback" not in data["message"]
    assert slow == [], slow
    assert client.client.connected
    assert requests.get(server.url + "healthz", timeout=5).json()["status"] == "ok"
    # Whatever a fuzzed payload happened to queue is canceled; the queue then drains.
    for job in server.studio.jobs.snapshot():
        if job["status"] in ("queued", "paused", "running"):
            server.studio.jobs.cancel(job["id"])
    assert server.studio.jobs.wait_idle(60)
    client.emit("requestSystemConfig")
    assert client.wait_for("systemConfig", timeout=10)


def test_four_clients_queueing_ten_jobs_each_all_finish_once_in_each_clients_order(quiet_server, connect):
    server = quiet_server
    assert server.studio.wait_until_loaded(120)
    clients = [connect(server.url) for _ in range(4)]
    sent: dict[int, list[str]] = {n: [] for n in range(4)}
    acks: dict[int, list] = {n: [] for n in range(4)}
    for round_ in range(10):
        for n, client in enumerate(clients):
            prompt = f"client {n} job {round_}"
            sent[n].append(prompt)
            client.client.emit("generateImage", (params(prompt=prompt, steps=1, progress_latents=False), False, False),
                               callback=lambda ack, n=n: acks[n].append(ack["jobId"]))
    for client in clients:
        client.wait_for("generationResult", count=40, timeout=300)
    deadline = time.monotonic() + 10
    while any(len(a) < 10 for a in acks.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    results = clients[0].of("generationResult")
    assert len(results) == 40 and len({r["jobId"] for r in results}) == 40  # each job made its image once
    for client in clients[1:]:
        assert [r["url"] for r in client.of("generationResult")] == [r["url"] for r in results]  # all saw all
    prompts = [r["metadata"]["image"]["prompt"][0]["prompt"] for r in results]
    for n in range(4):
        mine = [p for p in prompts if p.startswith(f"client {n} ")]
        assert mine == sent[n], f"client {n}'s jobs ran out of order"
        assert [r["jobId"] for r in results if r["metadata"]["image"]["prompt"][0]["prompt"]
                .startswith(f"client {n} ")] == acks[n]
    assert len(list(server.studio.outdir.glob("*.png"))) == 40


def test_a_mask_that_is_not_an_image_is_an_error_and_nothing_is_stored(quiet_server, connect):
    client = connect(quiet_server.url)
    client.emit("uploadImage", _png(), "init.png", "img2img")
    init = client.wait_for("imageUploaded")[0]["url"]
    bad = "data:image/png;base64," + base64.b64encode(b"not a picture").decode()
    client.emit("generateImage", params(init_img=init, init_mask=bad), False, False)
    assert "not an image" in client.wait_for("error")[0]["message"]
    assert not (quiet_server.studio.outdir / "mask-images").exists() or \
        not list((quiet_server.studio.outdir / "mask-images").iterdir())
