"""``invokeai --web`` as a real process: the startup line, a port in use, the LAN token, and a queue that survives kill -9."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
import socketio
from PIL import Image

from tests.conftest import free_port, private_root

pytestmark = pytest.mark.timeout(400)
REPO = Path(__file__).resolve().parent.parent


class ServerProcess:
    """``python -m invokeai_gui --web ...`` with its output collected by a thread (so the pipe never fills)."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "invokeai_gui", "--web", *args], cwd=REPO, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_url(self, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                match = re.search(r"Point your browser at (\S+)", line)
                if match:
                    return match.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("the server printed no URL:\n" + "\n".join(self.lines[-30:]))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # Ctrl-C
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)


@pytest.fixture
def processes():
    running: list[ServerProcess] = []

    def start(*args: str) -> ServerProcess:
        process = ServerProcess(*args)
        running.append(process)
        return process

    yield start
    for process in running:
        process.stop()


def test_a_port_in_use_is_a_one_line_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "invokeai_gui", "--web", "--port", str(port), "--root", str(tmp_path)],
            cwd=REPO, capture_output=True, text=True, timeout=60, env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"Port {port}" in lines[0] and "already in use" in lines[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_the_lan_flags_require_the_printed_token(processes, tmp_path, connect):
    port = free_port()
    process = processes("--host", "0.0.0.0", "--port", str(port), "--root", str(tmp_path))
    url = process.wait_for_url()
    token = re.search(r"\?token=([\w-]+)$", url).group(1)
    base = f"http://127.0.0.1:{port}"
    assert requests.get(base + "/", timeout=10).status_code == 401
    with pytest.raises(socketio.exceptions.ConnectionError):
        socketio.Client(reconnection=False).connect(base, wait_timeout=10)
    session = requests.Session()
    assert session.get(f"{base}/?token={token}", timeout=10).status_code == 200
    cookie = session.cookies["invokeai_token"]
    assert connect(base, headers={"Cookie": f"invokeai_token={cookie}"}).client.connected
    process.proc.kill()  # it is still loading the model, which Ctrl-C would wait for


def job(prompt: str, steps: int) -> dict:
    return {"prompt": prompt, "iterations": 1, "steps": steps, "width": 64, "height": 64, "sampler_name": "k_euler",
            "seed": 5, "progress_latents": False}


def test_the_queue_survives_kill_9(processes, tmp_path, test_root, connect):
    root = private_root(test_root, tmp_path / "root")
    outdir = tmp_path / "outputs"
    port = free_port()
    args = ("--port", str(port), "--root", str(root), "--outdir", str(outdir))

    first = processes(*args)
    url = first.wait_for_url()
    assert url == f"http://127.0.0.1:{port}/"
    assert requests.get(url, timeout=10).status_code == 200
    served_after = time.monotonic() - first.started
    assert served_after < 60, f"the UI took {served_after:.1f}s to be served"

    client = connect(url)
    # The first job is long enough to be caught running; the three behind it are short.
    ids = [client.call("generateImage", job(f"job {n}", 50 if n == 0 else 3), False, False)["jobId"] for n in range(4)]
    client.wait_for("progressUpdate", lambda d: d.get("jobId") == ids[0] and d["currentStep"] >= 2, timeout=180)
    queue = client.of("queueUpdate")[-1]["jobs"]
    assert [(j["id"], j["status"]) for j in queue if j["id"] in ids] == [
        (ids[0], "running"), (ids[1], "queued"), (ids[2], "queued"), (ids[3], "queued")]
    first.proc.kill()  # SIGKILL: no clean-up of any kind
    first.proc.wait(30)

    second = processes(*args)
    client = connect(second.wait_for_url())
    client.emit("requestQueue")
    queue = client.wait_for("queueUpdate", timeout=30)[0]["jobs"]
    assert [(j["id"], j["status"]) for j in queue if j["kind"] == "generate"] == [(i, "paused") for i in ids]
    time.sleep(1.0)
    assert client.of("generationResult") == []  # nothing runs unasked

    client.emit("resumeQueue")
    results = client.wait_for("generationResult", count=4, timeout=240)
    assert [r["jobId"] for r in results] == ids
    second.stop()  # Ctrl-C: a clean stop
    assert second.proc.returncode == 0 and any(">> Stopped." in line for line in second.lines)

    pngs = sorted(outdir.glob("*.png"))
    assert len(pngs) >= 4
    for png in pngs:  # every visible PNG is whole
        with Image.open(png) as im:
            im.load()


def test_a_multi_image_job_killed_midway_resumes_with_the_next_image_and_no_duplicates(processes, tmp_path, test_root,
                                                                                        connect):
    root = private_root(test_root, tmp_path / "root")
    outdir = tmp_path / "outputs"
    args = ("--port", str(free_port()), "--root", str(root), "--outdir", str(outdir))
    six = {**job("six of them", 3), "iterations": 6, "seed": -1}  # a random seed, fixed when the job is queued

    first = processes(*args)
    client = connect(first.wait_for_url())
    job_id = client.call("generateImage", six, False, False)["jobId"]
    made = client.wait_for("generationResult", lambda d: d.get("jobId") == job_id, count=2, timeout=240)
    first.proc.kill()  # SIGKILL after two images (a third may be on its way to the disk)
    first.proc.wait(30)
    seed = made[0]["metadata"]["image"]["seed"]
    before = {p.name for p in outdir.glob("*.png")}
    assert len(before) >= 2

    second = processes(*args)
    client = connect(second.wait_for_url())
    client.emit("resumeQueue")
    client.wait_for("queueUpdate", lambda d: any(j["id"] == job_id and j["status"] == "done" for j in d["jobs"]),
                    timeout=240)
    resumed = sorted(outdir.glob("*.png"))
    assert len(resumed) == 6, [p.name for p in resumed]

    # The same job uninterrupted (its seed now given) makes byte-identical files.
    again = client.call("generateImage", {**six, "seed": seed}, False, False)["jobId"]
    uninterrupted = client.wait_for("generationResult", lambda d: d.get("jobId") == again, count=6, timeout=240)
    expected = [(outdir / r["url"].removeprefix("outputs/")).read_bytes() for r in uninterrupted]
    assert [p.read_bytes() for p in resumed] == expected


def test_flags_become_the_server_settings(tmp_path):
    from invokeai_gui.main import build_parser, server_config_from_args

    args = build_parser().parse_args([
        "--web", "--root", str(tmp_path), "--outdir", "pics", "--host", "0.0.0.0", "--port", "9999",
        "--cors", "http://a.example,http://b.example", "http://c.example/", "--web_develop", "--model", "demo-alt",
        "--precision", "float32", "--device", "cpu", "--free_gpu_mem", "--seamless",
        "--compile",
    ])
    config = server_config_from_args(args)
    assert config.root == tmp_path.resolve() and config.outdir == tmp_path.resolve() / "pics"
    assert (config.host, config.port, config.model, config.precision, config.device) == (
        "0.0.0.0", 9999, "demo-alt", "float32", "cpu")
    assert config.free_gpu_mem and config.seamless and config.requires_token and config.compile
    assert config.cors == ["http://a.example", "http://b.example", "http://c.example", "http://localhost:5173"]
    plain = server_config_from_args(build_parser().parse_args(["--web", "--root", str(tmp_path)]))
    assert plain.outdir == tmp_path.resolve() / "outputs" / "img-samples"
    assert not plain.requires_token and plain.cors == [] and not plain.compile
    lan_open = server_config_from_args(build_parser().parse_args(["--web", "--host", "0.0.0.0", "--no-auth"]))
    assert not lan_open.requires_token
