"""The app's seams: one error base with one user_message, one set of engine flags, one default output
folder, and broadcasts that in-process listeners (the desktop window's title) can follow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ldm.invoke.errors import InvalidParameterError, InvokeError, MissingFileError, UserError, user_message


def test_every_user_facing_error_family_is_a_user_error():
    from invokeai_gui.desktop.bridge import DesktopError
    from invokeai_gui.server.http import PortInUseError
    from invokeai_gui.server.schemas import RequestError
    from invokeai_gui.server.security import UnsafePathError
    from invokeai_gui.server.uploads import UploadError

    for family in (InvokeError, RequestError, UploadError, UnsafePathError, DesktopError, PortInUseError,
                   MissingFileError):
        assert issubclass(family, UserError), family
    port = PortInUseError(98, "Port 9090 on 127.0.0.1 is already in use.")
    assert isinstance(port, OSError) and port.strerror.startswith("Port 9090")


@pytest.mark.parametrize("exc, message", [
    (InvalidParameterError("steps", "must be a whole number from 1 to 1000, got 0"),
     "Invalid steps: must be a whole number from 1 to 1000, got 0."),
    (MissingFileError("The image outputs/a.png does not exist."), "The image outputs/a.png does not exist."),
    (KeyError("boom"), "The job failed: KeyError: 'boom'"),
])
def test_user_message_is_the_one_sentence_a_user_sees(exc, message):
    assert user_message(exc) == message


def test_the_web_app_and_the_cli_take_the_same_engine_flags():
    from invokeai_gui.main import build_parser
    from ldm.invoke.cli import build_arg_parser

    line = ["--root", "/r", "--outdir", "/o", "--model", "m", "--precision", "bfloat16", "--device", "cpu",
            "--free_gpu_mem", "--seamless", "--compile", "--from_file", "f.txt"]
    web, cli = vars(build_parser().parse_args(line)), vars(build_arg_parser().parse_args(line))
    assert {k: web[k] for k in cli} == cli
    assert vars(build_arg_parser().parse_args([])) == {k: v for k, v in vars(build_parser().parse_args([])).items()
                                                       if k in cli}


def test_the_default_output_folder_is_computed_in_one_place(tmp_path):
    from invokeai_gui.server.config import ServerConfig
    from ldm.invoke.globals import outputs_dir

    assert ServerConfig(root=tmp_path).outdir == outputs_dir(tmp_path.resolve())


def test_in_process_listeners_follow_broadcasts_until_they_unsubscribe():
    from invokeai_gui.server.publisher import Publisher

    class Sent:
        def __init__(self):
            self.events = []

        def emit(self, event, data=None, **kwargs):
            self.events.append(event)

    sent, seen = Sent(), []
    publisher = Publisher(sent)
    stop = publisher.subscribe(lambda event, data: seen.append((event, data)))
    publisher.subscribe(lambda event, data: 1 / 0)  # a failing listener harms nobody
    publisher.broadcast("systemConfig", {"model_id": "demo"})
    publisher.reply("sid", "galleryImages", {})  # replies are for one client, not for listeners
    stop()
    publisher.broadcast("modelChanged", {})
    assert seen == [("systemConfig", {"model_id": "demo"})]
    assert sent.events == ["systemConfig", "galleryImages", "modelChanged"]


def test_the_desktop_window_is_given_a_server_config_not_the_command_line():
    import inspect

    from invokeai_gui.desktop import window

    assert list(inspect.signature(window.run).parameters) == ["config", "on_close", "free_port_ok"]
    assert "invokeai_gui.main" not in Path(window.__file__).read_text()


def test_require_token_makes_loopback_ask_for_the_access_token(server_factory):
    import requests
    import socketio

    server = server_factory(require_token=True, load_model_at_start=False)
    base = f"http://127.0.0.1:{server.port}"
    assert server.url.startswith(base + "/?token=")
    assert requests.get(base + "/", timeout=10).status_code == 401
    with pytest.raises(socketio.exceptions.ConnectionError):
        socketio.Client(reconnection=False).connect(base, wait_timeout=10)
    session = requests.Session()
    assert session.get(server.url, timeout=10).status_code == 200  # the printed URL signs in


def test_uploads_and_refusals_answer_in_their_acknowledgement_too(server_factory, connect):
    from io import BytesIO

    from PIL import Image

    server = server_factory(load_model_at_start=False)
    client = connect(server.url)
    buffer = BytesIO()
    Image.new("RGB", (16, 16)).save(buffer, format="PNG")
    info = client.call("uploadImage", buffer.getvalue(), "a.png", "img2img")
    assert info["url"].startswith("outputs/init-images/a.") and info["destination"] == "img2img"
    assert client.wait_for("imageUploaded")[0]["url"] == info["url"]  # the 2.1 reply is still sent
    refused = client.call("uploadImage", b"not an image", "b.png", "img2img")
    assert "not an image" in refused["error"]
    assert client.call("generateImage", {"prompt": 5})["error"].startswith("The field 'generation_parameters.prompt'")


def test_the_studio_starts_serving_before_torch_loads(tmp_path):
    """Starting a studio asks its worker for facts (the workers board); before the model has loaded that
    must not import torch on the serving thread, or the first page waits for torch (1.5 s here)."""
    code = (
        "import sys\n"
        "from invokeai_gui.server import ServerConfig, create_app\n"
        f"server = create_app(ServerConfig(root={str(tmp_path)!r}, outdir={str(tmp_path / 'out')!r}, port=0,"
        " load_model_at_start=False))\n"
        "server.studio.start()\n"
        "server.studio.worker.facts(); server.studio.system_config()\n"
        "print('torch' in sys.modules)\n"
        "server.shutdown()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
