"""Desktop mode's parts that need no window: its settings file, the port it picks, the GUI check,
the drop witness, the bridge's refusals and what it exposes. (The window itself: test_desktop.py.)"""

from __future__ import annotations

import inspect
import json
import os
import socket
from pathlib import Path

import pytest

from invokeai_gui.desktop import drops, window
from invokeai_gui.desktop.bridge import EXPOSED_CALLS, DesktopBridge, DesktopError, reveal_command
from invokeai_gui.desktop.drops import DropWitness
from invokeai_gui.desktop.settings import MIN_SIZE, SETTINGS_FILE, DesktopSettings, WindowPlacement
from invokeai_gui.server import PortInUseError, ServerConfig
from invokeai_gui.server.security import UnsafePathError
from tests.conftest import private_root

# -- the settings file ------------------------------------------------------------------------


def test_settings_default_to_a_1600_by_1000_window_that_cancels_on_close(tmp_path: Path) -> None:
    settings = DesktopSettings.load(tmp_path)
    assert settings.window == WindowPlacement(1600, 1000, None, None, False)
    assert settings.on_close == "cancel"


def test_settings_round_trip_and_leave_no_temp_file(tmp_path: Path) -> None:
    settings = DesktopSettings(WindowPlacement(1200, 900, -20, 40, True), "finish")
    settings.save(tmp_path)
    assert DesktopSettings.load(tmp_path) == settings
    assert [p.name for p in tmp_path.iterdir()] == [SETTINGS_FILE]


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"window": "big", "on_close": "explode"}'])
def test_a_broken_settings_file_falls_back_to_the_defaults(tmp_path: Path, text: str) -> None:
    (tmp_path / SETTINGS_FILE).write_text(text)
    assert DesktopSettings.load(tmp_path) == DesktopSettings()


def test_a_saved_size_below_the_minimum_is_raised_to_it(tmp_path: Path) -> None:
    (tmp_path / SETTINGS_FILE).write_text(json.dumps({"window": {"width": 10, "height": True, "x": 5, "y": "up"}}))
    placement = DesktopSettings.load(tmp_path).window
    assert (placement.width, placement.height, placement.x, placement.y) == (MIN_SIZE[0], 1000, 5, None)


def test_on_close_comes_from_the_flag_else_the_settings_file() -> None:
    settings = DesktopSettings(on_close="finish")
    assert window.on_close_choice(None, settings) == "finish"
    assert window.on_close_choice("cancel", settings) == "cancel"
    with pytest.raises(ValueError, match="--on_close must be one of cancel, finish"):
        window.on_close_choice("later", settings)


# -- start-up -------------------------------------------------------------------------------------


@pytest.fixture
def config(test_root: Path, tmp_path: Path) -> ServerConfig:
    return ServerConfig(root=private_root(test_root, tmp_path / "root"), load_model_at_start=False)


def test_a_taken_default_port_makes_the_window_use_a_free_one(config: ServerConfig) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config.port = taken.getsockname()[1]
        app = window.DesktopApp(config, DesktopSettings(), "cancel", free_port_ok=True)
        try:
            url = app.start_server()
            assert f":{config.port}/" in url and config.port != taken.getsockname()[1]
        finally:
            app.shut_down()


def test_a_taken_port_the_user_asked_for_is_an_error(config: ServerConfig) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config.port = taken.getsockname()[1]
        app = window.DesktopApp(config, DesktopSettings(), "cancel", free_port_ok=False)
        with pytest.raises(PortInUseError, match="already in use"):
            app.start_server()


def test_without_a_display_no_window_is_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    unavailable = window.GuiProbe().result()
    assert unavailable is not None and "no display" in unavailable.reason


def test_a_display_qt_cannot_open_is_reported_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Qt aborts a process that cannot reach its display; the probe runs it in a child, so we only hear why."""
    monkeypatch.setenv("DISPLAY", ":987")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    unavailable = window.GuiProbe().result()
    assert unavailable is not None
    assert unavailable.reason.startswith("Qt cannot open a window here") and "display" in unavailable.reason


def test_webengine_runs_without_its_sandbox_only_as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QTWEBENGINE_CHROMIUM_FLAGS", "--disable-gpu")
    monkeypatch.setattr(window, "_running_as_root", lambda: False)
    assert window.allow_root_webengine() is False
    assert os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] == "--disable-gpu"
    monkeypatch.setattr(window, "_running_as_root", lambda: True)
    assert window.allow_root_webengine() is True
    assert window.allow_root_webengine() is True
    assert os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] == "--disable-gpu --no-sandbox"


# -- drops ------------------------------------------------------------------------------------------


def test_the_witness_hands_out_each_dropped_path_once_by_name() -> None:
    witness = DropWitness()
    witness.saw(["/home/ann/pictures/cat.png", "/home/ann/notes.txt"])
    assert witness.claim("dog.png") is None
    assert witness.claim("cat.png") == Path("/home/ann/pictures/cat.png")
    assert witness.claim("cat.png") is None
    assert witness.claim("notes.txt", claimed_path="/etc/notes.txt") is None  # the page's path must agree
    assert witness.claim("notes.txt", claimed_path="/home/ann/notes.txt") == Path("/home/ann/notes.txt")


def test_the_witness_forgets_old_drops(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(drops.time, "monotonic", lambda: now[0])
    witness = DropWitness()
    witness.saw(["/tmp/a.png"])
    now[0] += drops.DROP_MEMORY_SECONDS + 1
    assert witness.claim("a.png") is None


# -- the bridge ---------------------------------------------------------------------------------------


def test_the_page_gets_four_plain_functions_with_the_arguments_it_passes(server_factory) -> None:
    functions = DesktopBridge(server_factory(load_model_at_start=False).studio).functions()
    assert [f.__name__ for f in functions] == list(EXPOSED_CALLS)
    assert [inspect.getfullargspec(f).args for f in functions] == [[], [], ["url"], ["url"]]
    assert all(inspect.isfunction(f) for f in functions)  # not methods: nothing reachable through __self__


@pytest.mark.parametrize(
    "url",
    ["outputs/../desktop.json", "/etc/passwd", "file:///etc/passwd", "outputs/init-images/../../x.png",
     "http://evil.example/outputs/%2e%2e/x.png", "outputs/missing.png", "outputs/queue.sqlite3", 42],
)
def test_the_bridge_accepts_only_images_of_our_outputs(server_factory, url: object) -> None:
    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("a refused URL must not reach a dialog or the file manager")

    class NoDialogs:
        create_file_dialog = staticmethod(must_not_run)

    server = server_factory(load_model_at_start=False)
    (server.studio.outdir / "queue.sqlite3").write_bytes(b"not an image")
    bridge = DesktopBridge(server.studio, launch=must_not_run)
    bridge.attach(NoDialogs())
    with pytest.raises((DesktopError, UnsafePathError, FileNotFoundError)):
        bridge.save_image_as(url)  # type: ignore[arg-type]
    with pytest.raises((DesktopError, UnsafePathError, FileNotFoundError)):
        bridge.reveal_in_folder(url)  # type: ignore[arg-type]


def test_reveal_uses_each_platforms_file_manager() -> None:
    image = Path("/data/out/000001.42.png")
    assert reveal_command(image, "linux") == ["xdg-open", "/data/out"]
    assert reveal_command(image, "darwin") == ["open", "-R", "/data/out/000001.42.png"]
    assert reveal_command(image, "win32") == ["explorer", f"/select,{image}"]


def test_on_close_flag_reaches_the_window_from_the_command_line() -> None:
    from invokeai_gui.main import build_parser

    args = build_parser().parse_args(["--gui", "--on_close", "finish"])
    assert window.on_close_choice(args.on_close, DesktopSettings(on_close="cancel")) == "finish"
    assert window.on_close_choice(build_parser().parse_args(["--gui"]).on_close, DesktopSettings(on_close="finish")) == "finish"
