"""Desktop mode's parts that need no window: its settings file, the port it picks, the GUI check,
the drop witness, the bridge's refusals and what it exposes. (The window itself: test_desktop.py.)"""

from __future__ import annotations

import inspect
import json
import os
import socket
from pathlib import Path

import pytest
from PIL import Image

from invokeai_gui.desktop import drops, window
from invokeai_gui.desktop.bridge import (
    CONTROL_DROPPED_EVENT,
    DROP_DESTINATION_KEY,
    DROP_UNIT_KEY,
    EXPOSED_CALLS,
    OPEN_TITLE_KEY,
    DesktopBridge,
    DesktopError,
    reveal_command,
)
from invokeai_gui.desktop.drops import DropWitness
from invokeai_gui.desktop.settings import MIN_SIZE, SETTINGS_FILE, DesktopSettings, WindowPlacement
from invokeai_gui.server import PortInUseError, ServerConfig
from invokeai_gui.server.security import UnsafePathError
from ldm.invoke.files import CONTROL_FOLDER, INIT_FOLDER
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
    assert [inspect.getfullargspec(f).args for f in functions] == [["destination"], [], ["url"], ["url"]]
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


# -- where a picked or dropped picture goes ---------------------------------------------------------------


class PickingWindow:
    """The window's side the bridge talks to: its open dialog answers ``picks`` (real files) in turn,
    and the scripts it is asked to run in the page are kept."""

    def __init__(self, picks: list[Path]) -> None:
        self.picks = picks
        self.dialogs: list[int] = []
        self.titles: list[str] = []
        self.scripts: list[str] = []
        self.localization = dict(window.DIALOG_TITLES)  # pywebview's per-window dialog titles

    def create_file_dialog(self, kind: int, **options: object) -> list[str]:
        self.dialogs.append(kind)
        self.titles.append(self.localization[OPEN_TITLE_KEY])
        return [str(self.picks.pop(0))]

    def run_js(self, script: str) -> None:
        self.scripts.append(script)

    def events(self) -> list[tuple[str, object]]:
        """The window events the bridge dispatched: (name, detail)."""
        found = []
        for script in self.scripts:
            name, _, rest = script.removeprefix("window.dispatchEvent(new CustomEvent(").partition(", {detail: ")
            found.append((json.loads(name), json.loads(rest.removesuffix("}));"))))
        return found


def png(path: Path, color: tuple[int, int, int]) -> Path:
    Image.new("RGB", (40, 24), color).save(path)
    return path


def listening(server) -> list[tuple[str, object]]:
    heard: list[tuple[str, object]] = []
    server.studio.publisher.subscribe(lambda event, data: heard.append((event, data)))
    return heard


def bridged(server_factory, picks: list[Path] | None = None, witness: DropWitness | None = None):
    """A studio without a model, what it publishes, and a bridge on a window whose dialog answers ``picks``."""
    server = server_factory(load_model_at_start=False)
    heard = listening(server)
    window = PickingWindow(picks or [])
    bridge = DesktopBridge(server.studio)
    bridge.attach(window, witness)
    return server, heard, window, bridge


def folder_files(server, folder: str) -> list[Path]:
    where = server.studio.outdir / folder
    return sorted(where.iterdir()) if where.is_dir() else []


def test_the_native_dialog_for_a_control_unit_keeps_the_picture_out_of_the_uploads(server_factory, tmp_path: Path) -> None:
    control_pick, init_pick = png(tmp_path / "pose.png", (200, 40, 10)), png(tmp_path / "photo.png", (10, 90, 200))
    server, heard, window, bridge = bridged(server_factory, [control_pick, init_pick])
    [openImage, *_] = bridge.functions()  # noqa: N806 (the page's name)

    control = openImage("control")
    [stored] = folder_files(server, CONTROL_FOLDER)
    assert stored.read_bytes() == control_pick.read_bytes() and "pose" in stored.name
    assert control["url"] == f"outputs/{CONTROL_FOLDER}/{stored.name}" and control["destination"] == "control"
    assert (control["width"], control["height"]) == (40, 24)
    assert folder_files(server, INIT_FOLDER) == []
    assert not [e for e, _ in heard if e == "galleryImages"]  # the gallery is not told of a control picture

    # Without a destination the pick is an upload as before: in the Uploads, and the gallery hears of it.
    upload = openImage()
    [uploaded] = folder_files(server, INIT_FOLDER)
    assert upload["url"] == f"outputs/{INIT_FOLDER}/{uploaded.name}" and uploaded.read_bytes() == init_pick.read_bytes()
    assert [d["images"][0]["url"] for e, d in heard if e == "galleryImages"] == [upload["url"]]  # type: ignore[index]
    # Each dialog's title said what the picture was for.
    assert window.titles == ["Choose a control image", "Choose an initial image"]


def test_an_unknown_destination_is_refused_before_any_dialog_opens(server_factory) -> None:
    server, heard, window, bridge = bridged(server_factory)
    answer = bridge.functions()[0]("canvas-region")
    assert "'canvas-region' is not a destination of a picked or dropped file" in answer["error"]
    assert "'control'" in answer["error"]
    assert window.dialogs == [] and ("error", {"message": answer["error"]}) in heard


def drop_event(name: str, **marks: object) -> dict:
    """A drop event as pywebview hands it over (the DOM event, serialized), with the page's marks."""
    return {"type": "drop", "dataTransfer": {"files": [{"name": name}]}, **marks}


def test_a_drop_on_a_control_unit_becomes_that_units_picture_not_an_upload(server_factory, tmp_path: Path) -> None:
    dropped = png(tmp_path / "edges.png", (0, 250, 120))
    witness = DropWitness()
    server, heard, window, bridge = bridged(server_factory, witness=witness)

    witness.saw([dropped])
    bridge.handle_drop(drop_event("edges.png", **{DROP_DESTINATION_KEY: "control", DROP_UNIT_KEY: "unit-7"}))
    [(event, detail)] = window.events()
    [stored] = folder_files(server, CONTROL_FOLDER)
    assert event == CONTROL_DROPPED_EVENT == "controlImageDropped"
    assert detail["unit"] == "unit-7"  # type: ignore[index]
    assert detail["image"]["url"] == f"outputs/{CONTROL_FOLDER}/{stored.name}"  # type: ignore[index]
    assert stored.read_bytes() == dropped.read_bytes()
    assert folder_files(server, INIT_FOLDER) == [] and not [e for e, _ in heard if e == "galleryImages"]

    # The same file dropped anywhere else is the initial image, in the Uploads.
    witness.saw([dropped])
    bridge.handle_drop(drop_event("edges.png"))
    event, detail = window.events()[-1]
    [uploaded] = folder_files(server, INIT_FOLDER)
    assert event == "initialImageDropped" and detail["url"] == f"outputs/{INIT_FOLDER}/{uploaded.name}"  # type: ignore[index]


@pytest.mark.parametrize(
    ("marks", "message"),
    [
        ({DROP_DESTINATION_KEY: "control"}, "must name its unit"),
        ({DROP_DESTINATION_KEY: "outpainting", DROP_UNIT_KEY: "u"}, "'outpainting' is not a destination"),
    ],
)
def test_a_drop_with_a_bad_destination_is_reported_and_stores_nothing(server_factory, tmp_path: Path, marks, message) -> None:
    dropped = png(tmp_path / "x.png", (1, 2, 3))
    witness = DropWitness()
    server, heard, window, bridge = bridged(server_factory, witness=witness)
    witness.saw([dropped])
    bridge.handle_drop(drop_event("x.png", **marks))
    assert window.events() == []
    assert folder_files(server, CONTROL_FOLDER) == [] and folder_files(server, INIT_FOLDER) == []
    assert any(e == "error" and message in d["message"] for e, d in heard)  # type: ignore[index]
