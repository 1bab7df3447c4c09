"""Desktop mode, as a user meets it: ``invokeai --gui`` opens a real pywebview (Qt) window on a virtual
X display; images are generated through the page inside it, files come in through the native open
dialog and real drag and drop, the other bridge calls go through their real dialogs, and closing
the window (WM_DELETE_WINDOW, what a title bar's close button sends) exits cleanly.

Needs Xvfb, xdotool and pywebview[qt]; without them these tests fail, they never skip.
Screenshots land in artifacts/desktop/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.conftest import private_root
from tests.support.desktop_app import REPO, RunningDesktop, fake_program, path_with
from tests.support.xvfb import Geometry, VirtualDisplay, drag, require_tool, screenshot, xdotool

pytestmark = [pytest.mark.desktop, pytest.mark.timeout(600)]

ARTIFACTS = REPO / "artifacts" / "desktop"
LINCOLN = REPO / "web" / "e2e" / "fixtures" / "lincoln-parrot-128.png"  # the user guide's image, in the repo
GENERATED = re.compile(r"^\d{6}\.\d+\.png$")
# The demo model at float32 is quicker on a CPU than the bfloat16 "auto" picks there.
ENGINE_ARGS = ("--precision", "float32")


def sample_png(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (96, 64)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


@pytest.fixture(scope="session")
def xdisplay() -> Iterator[VirtualDisplay]:
    """One virtual display for the whole desktop suite; missing pieces fail the suite loudly."""
    for tool in ("Xvfb", "xdotool"):
        require_tool(tool)
    try:
        import webview  # noqa: F401
        from PyQt6 import QtWebEngineWidgets  # noqa: F401
    except ImportError as exc:
        pytest.fail(f"The desktop tests need pywebview[qt] (pip install \"invokeai-desktop[gui]\"): {exc}")
    with VirtualDisplay() as display:
        yield display


class DesktopLauncher:
    """Starts ``invokeai --gui`` processes with roots of their own, and stops them all afterwards."""

    def __init__(self, display: VirtualDisplay, shared_root: Path, base: Path) -> None:
        self.display = display
        self.shared_root = shared_root
        self.base = base
        self.bin = base / "bin"
        self.opener_record = base / "xdg-open.txt"
        fake_program(self.bin, "xdg-open", self.opener_record)  # revealInFolder's opener, recorded
        self.apps: list[RunningDesktop] = []

    def root(self, name: str) -> Path:
        return private_root(self.shared_root, self.base / name)

    def __call__(self, root: Path, *args: str) -> RunningDesktop:
        env = dict(os.environ, PATH=path_with(self.bin))
        app = RunningDesktop(self.display, root, self.base / f"app{len(self.apps)}.log", (*ENGINE_ARGS, *args), env)
        self.apps.append(app)
        return app

    def stop_all(self) -> None:
        for app in self.apps:
            app.stop()


@pytest.fixture
def launch(xdisplay: VirtualDisplay, test_root: Path, tmp_path: Path) -> Iterator[DesktopLauncher]:
    launcher = DesktopLauncher(xdisplay, test_root, tmp_path)
    yield launcher
    launcher.stop_all()


def generated_images(outdir: Path) -> list[Path]:
    return sorted(p for p in outdir.iterdir() if GENERATED.match(p.name))


def assert_complete_pngs(folder: Path) -> None:
    """No temp file left behind, and every PNG decodes to the end."""
    leftovers = [p.name for p in folder.rglob("*") if p.is_file() and (p.name.startswith(".") or p.suffix == ".tmp")]
    assert not leftovers, f"half-written files left in {folder}: {leftovers}"
    for png in folder.glob("*.png"):
        with Image.open(png) as im:
            im.load()


def fill_small_txt2img(app: RunningDesktop, prompt: str, steps: int) -> None:
    app.click("[data-testid=tab-txt2img]")
    app.type_into("[data-testid=prompt]", prompt, enter=False)
    app.type_into("[data-testid=steps]", str(steps))
    app.type_into("[data-testid=width]", "64")
    app.type_into("[data-testid=height]", "64")
    assert app.page is not None
    values = app.page.evaluate(
        "['prompt', 'steps', 'width', 'height'].map(t => document.querySelector(`[data-testid=${t}]`).value)"
    )
    assert values == [prompt, str(steps), "64", "64"], values


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"Timed out after {timeout} s waiting for {what}.")
        time.sleep(0.2)


# -- generating and closing -----------------------------------------------------------------


def test_generate_close_and_reopen_the_window(launch: DesktopLauncher) -> None:
    """A session from start to finish: place the window, make an image, close with work queued;
    reopen, find the window where it was and the waiting job still queued, close while a job runs."""
    root = launch.root("studio")
    outdir = root / "outputs" / "img-samples"
    app = launch(root)
    page = app.wait_until_ready()
    wait_until(lambda: "demo" in app.x.title(app.window_id), 30, "the model name in the title")
    assert app.x.title(app.window_id) == "InvokeAI Desktop — demo"
    assert (app.geometry().width, app.geometry().height) == (1600, 1000)

    # The user moves and resizes the window.
    placed = Geometry(100, 50, 1280, 860)
    xdotool(app.display.name, "windowsize", app.window_id, placed.width, placed.height)
    xdotool(app.display.name, "windowmove", app.window_id, placed.x, placed.y)
    wait_until(lambda: app.geometry() == placed, 10, "the moved window")

    fill_small_txt2img(app, "a lighthouse at dusk", steps=3)
    app.click("[data-testid=invoke]")
    page.wait_for("document.querySelectorAll('[data-testid=gallery-thumb]').length === 1", timeout=180,
                  what="the new image in the gallery")
    [image] = generated_images(outdir)
    with Image.open(image) as im:
        assert im.size == (64, 64)
        assert json.loads(im.info["sd-metadata"])["image"]["prompt"][0]["prompt"] == "a lighthouse at dusk"
    page.wait_for("document.querySelector('[data-testid=current-image-panel] img')?.naturalWidth === 64", timeout=30)
    time.sleep(0.5)  # let the compositor paint it before the screenshot
    app.snapshot(ARTIFACTS / "generated.png")

    # A long job running and one more waiting when the user closes the window: the running one is
    # canceled (the default), the waiting one stays in the queue on disk.
    app.type_into("[data-testid=steps]", "500")
    app.click("[data-testid=invoke]")
    page.wait_for("!!document.querySelector('[data-testid=queue-job][data-status=running]')", timeout=60,
                  what="the long job running")
    app.type_into("[data-testid=prompt]", "the waiting job", enter=False)
    app.click("[data-testid=invoke]")
    page.wait_for("!!document.querySelector('[data-testid=queue-job][data-status=queued]')", timeout=30,
                  what="the second job waiting")
    page.wait_for("document.querySelector('[data-testid=progress]')?.textContent?.includes('Step')", timeout=60,
                  what="steps of the running job")
    started = time.monotonic()
    app.close_window()
    assert app.wait_exit(10) == 0
    assert time.monotonic() - started < 10
    assert "Canceling the running job" in app.log()
    assert generated_images(outdir) == [image], "the canceled job must not leave an image"
    assert_complete_pngs(outdir)
    with sqlite3.connect(root / "databases" / "queue.sqlite3") as db:
        waiting = db.execute("SELECT summary FROM jobs").fetchall()
    assert len(waiting) == 1 and "the waiting job" in waiting[0][0], waiting
    settings = json.loads((root / "desktop.json").read_text())
    assert settings == {"window": {"x": 100, "y": 50, "width": 1280, "height": 860, "maximized": False},
                        "on_close": "cancel"}

    # Reopened, with closing set to let a running job finish.
    settings["on_close"] = "finish"
    (root / "desktop.json").write_text(json.dumps(settings))
    again = launch(root)
    again.wait_for_window()
    wait_until(lambda: again.geometry() == placed, 15, "the window where it was left")
    page = again.wait_until_ready()
    page.wait_for("[...document.querySelectorAll('[data-testid=queue-job][data-status=paused]')]"
                  ".some(j => j.textContent.includes('the waiting job'))", timeout=30, what="the waiting job, paused")
    fill_small_txt2img(again, "a finished job", steps=12)
    again.click("[data-testid=invoke]")
    page.wait_for("!!document.querySelector('[data-testid=queue-job][data-status=running]')", timeout=60)
    again.close_window()
    assert again.wait_exit(180) == 0
    assert "Finishing the running job" in again.log()
    finished = [p for p in generated_images(outdir) if p != image]
    assert len(finished) == 1
    assert_complete_pngs(outdir)
    with Image.open(finished[0]) as im:
        assert json.loads(im.info["sd-metadata"])["image"]["steps"] == 12


# -- the bridge, in one window shared by the tests below ---------------------------------------


class Studio:
    """A running window for the bridge tests, with the files they pick and drop."""

    def __init__(self, launcher: DesktopLauncher, base: Path) -> None:
        self.root = launcher.root("bridge")
        self.outdir = self.root / "outputs" / "img-samples"
        self.result = sample_png(self.outdir / "000001.1234.png", (20, 120, 220))
        self.files = base / "files"
        self.files.mkdir()
        self.picked = Path(shutil.copy(LINCOLN, self.files / "picked lincoln.png"))
        self.dropped = sample_png(self.files / "dropped.png", (230, 180, 30))
        self.notes = self.files / "notes.txt"
        self.notes.write_text("not an image\n")
        self.app = launcher(self.root)
        self.page = self.app.wait_until_ready()
        self.page.evaluate(
            "window.__dropped = []; window.addEventListener('initialImageDropped', e => window.__dropped.push(e.detail));"
            "window.__drops = []; document.addEventListener('drop', e => window.__drops.push("
            "[...e.dataTransfer.files].map(f => f.name).join(',')), true); 0"
        )

    def expect(self, expression: str, what: str, timeout: float = 30) -> object:
        """Waits for ``expression`` in the page; a timeout fails with the app's log attached."""
        try:
            return self.page.wait_for(expression, timeout=timeout, what=what)
        except TimeoutError as exc:
            drops = self.page.evaluate("window.__drops")
            raise AssertionError(f"{exc}\nDOM drops: {drops}\n--- app log ---\n{self.app.log()[-1500:]}") from None

    def uploads(self) -> list[Path]:
        folder = self.outdir / "init-images"
        return sorted(folder.iterdir()) if folder.is_dir() else []

    def clear_initial_image(self) -> None:
        self.app.click("[data-testid=tab-img2img]")
        if self.page.evaluate("!!document.querySelector('[data-testid=clear-init-image]')"):
            self.app.click("[data-testid=clear-init-image]")
        self.page.wait_for("!!document.querySelector('[data-testid=init-image-dropzone]')", timeout=10)

    def initial_image_file(self) -> Path:
        url = self.page.wait_for("document.querySelector('[data-testid=init-image]')?.dataset.url", timeout=30,
                                 what="an initial image")
        assert url.startswith("outputs/init-images/"), url
        return self.outdir / url.removeprefix("outputs/")

    def start_call(self, call: str) -> None:
        """Calls the bridge from the page without waiting (a dialog will hold it open)."""
        self.page.evaluate(f"window.__answer = undefined; window.pywebview.api.{call}.then(r => window.__answer = r ?? null); 0")

    def answer(self, timeout: float = 30) -> object:
        return self.page.wait_for("window.__answer !== undefined && JSON.stringify(window.__answer)", timeout=timeout,
                                  what="the bridge's answer")

    def dialog(self, title: str) -> int:
        window_id = self.app.x.wait_for_window(pid=self.app.process.pid, title=title, timeout=30)
        xdotool(self.app.display.name, "windowfocus", "--sync", window_id)
        return window_id

    def type_in_dialog(self, title: str, text: str, shot: str | None = None) -> int:
        dialog = self.dialog(title)
        time.sleep(0.3)
        xdotool(self.app.display.name, "key", "--clearmodifiers", "ctrl+a")
        xdotool(self.app.display.name, "type", "--delay", "5", text)
        if shot:
            screenshot(self.app.display.name, ARTIFACTS / shot)
        xdotool(self.app.display.name, "key", "Return")
        return dialog

    def drag_in(self, path: Path, onto: str = "[data-testid=current-image-panel]") -> None:
        """Drags ``path`` from a real X drag source (another process) onto the element ``onto``
        (the window's image area)."""
        attempts = 4
        for attempt in range(attempts):
            self.page.evaluate("window.__drops = []")
            source = subprocess.Popen(
                [sys.executable, "-m", "tests.support.drag_source", "0", "0", str(path)],
                cwd=REPO, env=self.app.display.env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )
            try:
                assert source.stdout is not None
                assert source.stdout.readline().strip() == "ready"
                # A loaded machine answers drag moves slowly: hover longer on each new try.
                drag(self.app.display.name, (80, 60), self.app.point(onto),
                     hover=1.5 * (attempt + 1))
                assert source.stdout.readline().strip() == "dropped CopyAction"
            finally:
                source.terminate()
                source.wait(10)
            try:
                # The harness's own check that the page got a drop at all; what the app does with it is the test.
                self.page.wait_for("window.__drops.length > 0", timeout=15, what="a DOM drop event")
                return
            except TimeoutError:
                print(f"drag attempt {attempt + 1}: the web view took no drop; dragging again")
                xdotool(self.app.display.name, "windowfocus", "--sync", self.app.window_id)
                time.sleep(1)
        raise AssertionError(f"{attempts} real drags never produced a DOM drop event in the page.")


@pytest.fixture(scope="module")
def studio(xdisplay: VirtualDisplay, test_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    base = tmp_path_factory.mktemp("desktop-bridge")
    launcher = DesktopLauncher(xdisplay, test_root, base)
    try:
        studio = Studio(launcher, base)
        yield studio
        # Ended like a service manager ends it: SIGTERM closes the window and shuts down cleanly.
        studio.app.process.send_signal(signal.SIGTERM)
        assert studio.app.wait_exit(30) == 0
        assert ">> Stopped." in studio.app.log()
    finally:
        launcher.stop_all()


def test_the_page_sees_only_the_four_bridge_calls(studio: Studio) -> None:
    calls = studio.page.evaluate("Object.keys(window.pywebview.api).sort()")
    assert calls == sorted(["openImage", "chooseOutputFolder", "saveImageAs", "revealInFolder"])
    # pywebview resolves a call's dotted name with getattr on its js_api object; there is none, so
    # page script cannot reach what stands behind the four calls.
    for probe in ("openImage.__globals__.clear", "_server.shutdown", "__dict__.clear"):
        studio.page.evaluate(f"window.pywebview._jsApiCallback({json.dumps(probe)}, [], 'probe'); 0")
        wait_until(lambda probe=probe: f"Function {probe}() does not exist" in studio.app.log(), 10, probe)
    assert studio.page.evaluate("typeof window.pywebview.api.openImage") == "function"
    assert requests.get(studio.app.url + "healthz", timeout=10).status_code == 200


def test_open_image_dialog_makes_the_picked_file_the_initial_image(studio: Studio) -> None:
    studio.clear_initial_image()
    before = studio.uploads()
    studio.app.click("[data-testid=init-image-dropzone]")
    studio.type_in_dialog("Choose an initial image", str(studio.picked), shot="open-dialog.png")
    uploaded = studio.initial_image_file()
    assert uploaded not in before
    assert uploaded.read_bytes() == studio.picked.read_bytes()
    assert uploaded.name.startswith("picked_lincoln.")
    studio.page.wait_for("document.querySelector('[data-testid=init-image]')?.naturalWidth === 128", timeout=30)
    time.sleep(0.5)  # let the compositor paint it before the screenshot
    studio.app.snapshot(ARTIFACTS / "initial-image-from-dialog.png")


def test_dropping_an_image_from_the_desktop_makes_it_the_initial_image(studio: Studio) -> None:
    """A real XDND drop from another X client (a Qt drag source moved by xdotool), not a simulated event."""
    studio.clear_initial_image()
    studio.page.evaluate("window.__dropped = []")
    studio.drag_in(studio.dropped)
    [detail] = studio.expect("window.__dropped.length && window.__dropped", "the initialImageDropped event")
    from_bridge = studio.outdir / detail["url"].removeprefix("outputs/")
    assert from_bridge.read_bytes() == studio.dropped.read_bytes()
    assert (detail["width"], detail["height"], detail["category"]) == (96, 64, "user")
    assert studio.initial_image_file().read_bytes() == studio.dropped.read_bytes()
    studio.app.snapshot(ARTIFACTS / "initial-image-from-drop.png")


def test_a_drop_uploads_once_and_show_in_folder_opens_the_folder(studio: Studio) -> None:
    """The native layer uploads a dropped file; the page only cancels the default (it used to upload it again).
    The toolbar's "Show in folder" button, shown only in the window, reveals the current image's folder."""
    studio.clear_initial_image()
    before = studio.uploads()
    studio.page.evaluate("window.__dropped = []")
    studio.drag_in(studio.dropped)
    studio.expect("window.__dropped.length", "the initialImageDropped event")
    studio.initial_image_file()
    time.sleep(2)  # room for a second upload from the page to arrive, were it sent
    new = [p for p in studio.uploads() if p not in before]
    assert len(new) == 1, new
    assert new[0].read_bytes() == studio.dropped.read_bytes()

    record = Path(studio.app.log_path).parent / "xdg-open.txt"
    record.unlink(missing_ok=True)
    current = studio.expect("document.querySelector('[data-testid=current-image]')?.dataset.url", "the current image")
    assert current == "outputs/000001.1234.png"
    assert studio.page.evaluate("!!document.querySelector('[data-testid=save-image-as]')")
    studio.app.click("[data-testid=reveal-in-folder]")
    wait_until(record.exists, 10, "xdg-open to be run")
    assert record.read_text().splitlines() == [str(studio.outdir), "--"]


def test_a_control_units_dialog_pick_and_drop_are_control_pictures_not_uploads(studio: Studio) -> None:
    """The native dialog opened from a control unit and a real drop on the unit's square store the picture
    in outdir/control-images (outside the gallery) and make it that unit's; the Uploads stay as they were."""
    before = studio.uploads()
    studio.app.click("[data-testid=tab-txt2img]")
    studio.page.evaluate("document.querySelector('[data-testid=control-add]').scrollIntoView({block: 'center'}); 0")
    studio.app.click("[data-testid=control-add]")
    studio.page.wait_for("!!document.querySelector('[data-testid=control-upload-0]')", timeout=10)
    studio.page.evaluate("document.querySelector('[data-testid=control-drop-0]').scrollIntoView({block: 'center'}); 0")
    studio.app.click("[data-testid=control-upload-0]")
    studio.type_in_dialog("Choose a control image", str(studio.picked))
    picture = "document.querySelector('[data-testid=control-picture-0]')?.getAttribute('src')"
    picked = studio.expect(f"{picture}?.startsWith('outputs/control-images/') && {picture}", "the unit's picked picture")
    assert (studio.outdir / picked.removeprefix("outputs/")).read_bytes() == studio.picked.read_bytes()

    # The native layer uploads the drop (the page marks it for its unit and uploads nothing itself).
    studio.page.evaluate(
        "window.__dropped = []; window.__controlDropped = [];"
        "window.addEventListener('controlImageDropped', e => window.__controlDropped.push(e.detail)); 0"
    )
    studio.drag_in(studio.dropped, onto="[data-testid=control-drop-0]")
    dropped = studio.expect(f"{picture} !== {json.dumps(picked)} && {picture}", "the unit's dropped picture")
    assert dropped.startswith("outputs/control-images/dropped.")
    [detail] = studio.page.evaluate("window.__controlDropped")
    unit = studio.page.evaluate("JSON.parse(localStorage.getItem('invokeai.state.v1')).control.units[0].id")
    assert detail["unit"] == unit and detail["image"]["url"] == dropped
    assert (studio.outdir / dropped.removeprefix("outputs/")).read_bytes() == studio.dropped.read_bytes()
    time.sleep(2)  # room for an upload from the page or an initialImageDropped to arrive, were either sent
    assert studio.page.evaluate("window.__dropped.length") == 0
    assert studio.uploads() == before
    assert studio.page.evaluate("document.querySelector('[data-testid=tab-txt2img]').getAttribute('aria-selected')") == "true"
    studio.page.evaluate("document.querySelector('[data-testid=control-remove-0]').click(); 0")


def test_dropping_a_text_file_shows_the_error_toast(studio: Studio) -> None:
    before = studio.uploads()
    studio.page.evaluate("window.__dropped = []")
    studio.drag_in(studio.notes)
    toast = studio.expect(
        "[...document.querySelectorAll('[data-testid^=toast-]')].map(t => t.textContent).find(t => t.includes('notes.txt:'))",
        "the error toast",
    )
    assert "not an image" in toast
    assert studio.page.evaluate("window.__dropped.length") == 0
    assert studio.uploads() == before
    studio.app.snapshot(ARTIFACTS / "dropped-text-file.png")


def test_a_drop_event_forged_by_page_script_cannot_upload_a_file(studio: Studio) -> None:
    """Only files the window received from the desktop count: page script naming a path gets nothing."""
    before = studio.uploads()
    secret = sample_png(studio.files / "secret.png", (1, 2, 3))
    studio.page.evaluate(
        "window.pywebview._jsApiCallback('pywebviewEventHandler', {event: {type: 'drop', dataTransfer: {files: "
        f"[{{name: 'secret.png', pywebviewFullPath: {json.dumps(str(secret))}}}]}}}}, nodeId: 'document'}}, 'eventHandler'); 0"
    )
    wait_until(lambda: "Ignored a drop naming secret.png" in studio.app.log(), 15, "the forged drop to be refused")
    assert studio.uploads() == before


def test_save_image_as_writes_a_byte_identical_copy_where_typed(studio: Studio) -> None:
    target = studio.files / "saved" / "my copy.png"
    target.parent.mkdir()
    studio.start_call("saveImageAs('outputs/000001.1234.png')")
    studio.type_in_dialog("Save image as", str(target), shot="save-dialog.png")
    assert json.loads(studio.answer()) == {"path": str(target)}
    assert target.read_bytes() == studio.result.read_bytes()

    # URLs that are not our own outputs never open a dialog.
    for url in ("outputs/../desktop.json", "/etc/passwd", "file:///etc/passwd", "outputs/init-images/../../x.png"):
        studio.start_call(f"saveImageAs({json.dumps(url)})")
        answer = json.loads(studio.answer())
        assert "error" in answer, (url, answer)
    assert not studio.app.x.windows(pid=studio.app.process.pid, title="Save image as")


def test_reveal_in_folder_asks_the_platform_opener_for_the_folder(studio: Studio, tmp_path: Path) -> None:
    record = Path(studio.app.log_path).parent / "xdg-open.txt"
    record.unlink(missing_ok=True)
    studio.start_call("revealInFolder('outputs/000001.1234.png')")
    assert json.loads(studio.answer()) == {"folder": str(studio.outdir)}
    wait_until(record.exists, 10, "xdg-open to be run")
    assert record.read_text().splitlines() == [str(studio.outdir), "--"]


def test_choose_output_folder_switches_the_gallery_and_tells_every_client(studio: Studio, connect) -> None:
    other = studio.files / "other outputs"
    for n, color in enumerate([(200, 0, 0), (0, 200, 0)], start=1):
        sample_png(other / f"00000{n}.{n}.png", color)
    second = connect(studio.app.url)
    studio.start_call("chooseOutputFolder()")
    studio.type_in_dialog("Choose the output folder", str(other), shot="folder-dialog.png")
    try:
        answer = json.loads(studio.answer(timeout=15))
    except TimeoutError:  # the dialog took Enter as "open this folder"; a second one chooses it
        xdotool(studio.app.display.name, "key", "Return")
        answer = json.loads(studio.answer())
    assert answer == {"outdir": str(other.resolve())}
    [changed] = second.wait_for("outputFolderChanged", timeout=15)
    assert changed["outdir"] == str(other.resolve())
    names = studio.page.wait_for(
        "(() => { const t = [...document.querySelectorAll('[data-testid=gallery-thumb] img')].map(i => i.src);"
        " return t.length === 2 && t; })()",
        timeout=30, what="the other folder's two images in the gallery",
    )
    assert sorted(n.rsplit("/", 1)[-1].split("?")[0] for n in names) == ["000001.1.png", "000002.2.png"]
    studio.app.snapshot(ARTIFACTS / "other-output-folder.png")


# -- no window possible -------------------------------------------------------------------------


def test_gui_falls_back_to_the_browser_and_keeps_serving(test_root: Path, tmp_path: Path) -> None:
    """Without pywebview, and without a display: one line says why and how to fix it, the browser
    opens on the server, and the server keeps serving. (The two cases run side by side.)"""
    runs = {}
    for missing in ("pywebview", "display"):
        base = tmp_path / missing
        record = base / "browser.txt"
        env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1",
                   BROWSER=str(fake_program(base / "bin", "fake-browser", record)))
        if missing == "pywebview":
            shim = base / "shim" / "webview"
            shim.mkdir(parents=True)
            (shim / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'webview'\", name='webview')\n")
            env["PYTHONPATH"] = str(shim.parent)
            env["DISPLAY"] = ":0"
        else:
            env.pop("DISPLAY", None)
            env.pop("WAYLAND_DISPLAY", None)
        log = base / "app.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "invokeai_gui", "--gui", "--root", str(private_root(test_root, base / "root")),
                 "--port", "0", *ENGINE_ARGS],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
            )
        runs[missing] = (process, record, log)
    try:
        for missing, (_, record, log) in runs.items():
            wait_until(record.exists, 90, f"the browser to be opened ({missing})")
            [url, _] = record.read_text().splitlines()
            [message] = [line for line in log.read_text().splitlines() if "desktop window cannot open" in line]
            assert url in message
            if missing == "pywebview":
                assert "pywebview is not installed" in message and 'pip install "invokeai-desktop[gui]"' in message
            else:
                assert "there is no display" in message
            health = requests.get(url + "healthz", timeout=10)
            assert health.status_code == 200 and health.json()["status"] == "ok"
            assert requests.get(url, timeout=10).status_code == 200
        time.sleep(1)
        for missing, (process, _, _) in runs.items():
            assert process.poll() is None, f"the server must keep serving ({missing})"
            process.send_signal(signal.SIGTERM)
        for process, _, _ in runs.values():
            assert process.wait(90) == 0
    finally:
        for process, _, _ in runs.values():
            if process.poll() is None:
                process.kill()
                process.wait()
