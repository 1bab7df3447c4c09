"""Issue 21 item 11, as a real ``python -m invokeai_gui --web`` process: the access token is never
written to the log (``--web_verbose`` included) except in the startup line that prints the sign-in
URL; SIGTERM stops the server as Ctrl-C does."""

from __future__ import annotations

import re
import signal
import time

import pytest
import requests
import socketio
import websocket

from tests.conftest import free_port, private_root
from tests.test_server_cli import ServerProcess

pytestmark = pytest.mark.timeout(400)


@pytest.fixture
def lan_server(test_root, tmp_path):
    port = free_port()
    process = ServerProcess("--host", "0.0.0.0", "--port", str(port), "--web_verbose",
                            "--root", str(private_root(test_root, tmp_path / "root")))
    url = process.wait_for_url()
    token = re.search(r"\?token=([\w-]+)$", url).group(1)
    yield process, f"http://127.0.0.1:{port}", token
    process.stop()


def test_the_token_is_written_only_in_the_startup_line_and_sigterm_stops_cleanly(lan_server) -> None:
    process, base, token = lan_server
    session = requests.Session()
    assert session.get(f"{base}/?token={token}", timeout=10).status_code == 200  # the sign-in redirect
    assert session.get(f"{base}/healthz?token={token}", timeout=10).status_code == 200
    assert requests.get(f"{base}/outputs/none.png?token={token}&x=1", timeout=10).status_code == 404
    assert requests.get(f"{base}/?token=a-wrong-guess-123", timeout=10).status_code == 401
    for transports in (["polling"], ["websocket"]):
        client = socketio.Client(reconnection=False)
        client.connect(f"{base}?token={token}", transports=transports, wait_timeout=15,
                       headers={"Cookie": f"invokeai_token={token}"})
        client.emit("requestSystemConfig")
        time.sleep(0.5)
        client.disconnect()
    time.sleep(1)

    process.proc.send_signal(signal.SIGTERM)
    assert process.proc.wait(60) == 0, "\n".join(process.lines[-30:])
    process._reader.join(5)
    out = "\n".join(process.lines)
    assert ">> Stopped." in out
    assert "GET /" in out, "--web_verbose logs request lines"
    with_token = [line for line in process.lines if token in line]
    assert len(with_token) == 1 and "Point your browser at" in with_token[0], with_token
    assert "a-wrong-guess-123" not in out
    assert "Traceback" not in out


def test_a_malformed_engineio_frame_logs_one_line(lan_server) -> None:
    process, base, token = lan_server
    ws = websocket.create_connection(base.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
                                     header=[f"Cookie: invokeai_token={token}"], timeout=10)
    ws.recv()  # the open packet
    before = len(process.lines)
    for junk in ("\x00\x01garbage", "9not-a-packet", "4{{{", ""):
        try:
            ws.send(junk)
        except OSError:
            break
    time.sleep(2)
    ws.close()
    time.sleep(1)
    after = process.lines[before:]
    assert not [line for line in after if "Traceback" in line], "\n".join(after)
    assert len([line for line in after if "Ignored a malformed Engine.IO message" in line]) == 1, "\n".join(after)
    assert requests.get(f"{base}/healthz", timeout=10).status_code == 200


def test_sigterm_keeps_the_waiting_jobs_and_they_come_back_paused(test_root, tmp_path, connect) -> None:
    from tests.test_server_cli import job

    root = private_root(test_root, tmp_path / "root")
    args = ("--port", str(free_port()), "--root", str(root), "--outdir", str(tmp_path / "outputs"))
    first = ServerProcess(*args)
    try:
        client = connect(first.wait_for_url())
        ids = [client.call("generateImage", job(f"job {n}", 50 if n == 0 else 2), False, False)["jobId"]
               for n in range(3)]
        client.wait_for("progressUpdate", lambda d: d.get("jobId") == ids[0] and d["currentStep"] >= 1, timeout=180)
        first.proc.send_signal(signal.SIGTERM)
        assert first.proc.wait(60) == 0
    finally:
        first.stop()
    assert any(">> Stopped." in line for line in first.lines)
    second = ServerProcess(*args)
    try:
        client = connect(second.wait_for_url())
        client.emit("requestQueue")
        queue = client.wait_for("queueUpdate", timeout=30)[0]["jobs"]
        status = {j["id"]: j["status"] for j in queue}
        assert [status.get(i) for i in ids[1:]] == ["paused", "paused"], queue
    finally:
        second.stop()
