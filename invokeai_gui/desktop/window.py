"""Desktop mode: the server on a background thread and the studio in a native pywebview window on the main thread.

``DesktopApp`` owns both from start to exit. Closing the window cancels (or, with
``--on_close finish``, finishes) the running job, leaves waiting jobs in the persisted queue
and exits. Without pywebview, its GUI toolkit or a display, ``--gui`` says why, opens the
default browser on the server instead and keeps serving.

``INVOKEAI_DESKTOP_DEBUG=1`` turns on pywebview's debug mode (the web inspector, on right-click).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import webbrowser
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ldm.invoke import APP_NAME, __version__

from .bridge import OPEN_DIALOG_TITLES, OPEN_TITLE_KEY, DesktopBridge
from .drops import DropWitness
from .settings import MIN_SIZE, ON_CLOSE_CHOICES, DesktopSettings

if TYPE_CHECKING:
    from invokeai_gui.server import InvokeServer
    from invokeai_gui.server.config import ServerConfig

log = logging.getLogger(__name__)

GUI_INSTALL_HINT = 'pip install "invokeai-desktop[gui]"'
WINDOW_BACKGROUND = "#0c0d10"  # the dark theme's page colour, so the window never flashes white
HEALTH_TIMEOUT_SECONDS = 60.0
PROBE_TIMEOUT_SECONDS = 60.0
WEBVIEW_STORAGE = "desktop-webview"  # under the root dir: the page's saved settings (theme, options)
# Titles of the native dialogs (pywebview's localization keys), saying what each one is for.
DIALOG_TITLES = {
    OPEN_TITLE_KEY: OPEN_DIALOG_TITLES[None],  # the control unit's dialog retitles itself (bridge.py)
    "linux.openFolder": "Choose the output folder",
    "global.saveFile": "Save image as",
}

# Run in a child process: Qt aborts the whole process when it cannot open the display or load
# its platform plugin, which must not take the server down with it.
_QT_PROBE = """
import sys
from PyQt6.QtWidgets import QApplication
from PyQt6 import QtWebEngineWidgets  # noqa: F401
app = QApplication(sys.argv[:1])
print("ok")
"""


@dataclass(frozen=True)
class GuiUnavailable:
    """Why no native window can open, and what the user can do about it."""

    reason: str
    fix: str = f"install the GUI extra with: {GUI_INSTALL_HINT}"


def _probe_failure(stderr: str) -> str:
    """The line of a failed Qt start that says what went wrong (Qt ends with a generic one)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if "No module named" in line or line.startswith("ImportError"):
            return line
    for line in lines:
        if line.startswith("qt.") and "Could not load the Qt platform plugin" not in line:
            return line
    return lines[-1] if lines else "no output"


class GuiProbe:
    """Checks in the background, while the server starts, that a native window can open here."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self._early: GuiUnavailable | None = self._check_imports()
        if self._early is None and _uses_qt():
            if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
                self._early = GuiUnavailable(
                    "there is no display (neither DISPLAY nor WAYLAND_DISPLAY is set)",
                    "run it inside a desktop session, or use --web",
                )
            else:
                self._process = subprocess.Popen(
                    [sys.executable, "-c", _QT_PROBE],
                    env=_qt_environment(os.environ),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )

    @staticmethod
    def _check_imports() -> GuiUnavailable | None:
        try:
            import webview  # noqa: F401
        except ImportError as exc:
            return GuiUnavailable(f"pywebview is not installed ({exc})")
        return None

    def result(self) -> GuiUnavailable | None:
        if self._early is not None or self._process is None:
            return self._early
        try:
            out, err = self._process.communicate(timeout=PROBE_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.communicate()
            return GuiUnavailable("Qt did not start within a minute", "check the display, or use --web")
        if self._process.returncode == 0 and "ok" in out:
            return None
        line = _probe_failure(err)
        if "No module named" in line:
            return GuiUnavailable(f"Qt for Python is missing ({line})")
        return GuiUnavailable(
            f"Qt cannot open a window here ({line})",
            f"check that the display works and Qt's libraries are installed, or {GUI_INSTALL_HINT}",
        )


def _uses_qt() -> bool:
    """Qt on Linux and the BSDs; Windows and macOS use their own web views."""
    return not (sys.platform.startswith("win") or sys.platform == "darwin")


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def allow_root_webengine() -> bool:
    """Chromium refuses to start its sandbox as root; only then is it turned off, and said so."""
    if not (_uses_qt() and _running_as_root()):
        return False
    flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "").split()
    if "--no-sandbox" not in flags:
        os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = " ".join([*flags, "--no-sandbox"])
    log.warning("Running as root: the window's web engine runs without Chromium's sandbox (--no-sandbox).")
    return True


def _qt_environment(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """``environ`` without the Qt plugin and font paths OpenCV's wheels point into themselves.

    ``import cv2`` (pulled in by the face restorers) sets QT_QPA_PLATFORM_PLUGIN_PATH to its own
    stripped-down Qt plugins, which PyQt6's Qt cannot load: a QApplication created after that
    aborts the process with "Could not load the Qt platform plugin".
    """
    cleaned = dict(environ)
    for name in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"):
        value = cleaned.get(name, "")
        if f"{os.sep}cv2{os.sep}" in value:
            del cleaned[name]
    return cleaned


def prepare_for_qt() -> None:
    """Imports what the engine would import later, and must not import after Qt starts, then
    cleans the environment Qt reads. Called on the main thread just before the window opens.

    Triton (torch's kernel compiler) carries its own LLVM; Qt's OpenGL pulls Mesa's libLLVM into
    the process (llvmpipe, radeonsi), and importing Triton after that crashes it. OpenCV, on
    import, points Qt at its own plugins (see ``_qt_environment``). The engine imports both
    lazily on its worker thread, so without this they could come first or second by chance.
    """
    import importlib
    import importlib.util

    for name in ("triton", "cv2"):
        if importlib.util.find_spec(name) is None:
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:  # the engine copes without them; the window must not fail for them
            log.debug("%s could not be preloaded: %s", name, exc)
    cleaned = _qt_environment(os.environ)
    for name in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"):
        if name in os.environ and name not in cleaned:
            del os.environ[name]


class DesktopApp:
    """Desktop mode from start to exit: the server thread, the window, and a clean shut-down."""

    def __init__(self, config: ServerConfig, settings: DesktopSettings, on_close: str, free_port_ok: bool) -> None:
        self.config = config
        self.settings = settings
        self.on_close = on_close
        self.free_port_ok = free_port_ok  # the port was not asked for, so any free one will do
        self._server: InvokeServer | None = None
        self._window: Any = None
        self._stop_watching = threading.Event()
        self._placement = settings.window

    # -- start-up ----------------------------------------------------------------------------

    def start_server(self) -> str:
        """Binds (falling back to a free port when the default one is taken), serves from a
        background thread and waits until ``/healthz`` answers; returns the URL to open."""
        from invokeai_gui.server import PortInUseError, create_app

        server = create_app(self.config)
        try:
            server.bind()
        except PortInUseError:
            if not self.free_port_ok:
                raise
            log.info("Port %d is taken; the window uses a free port instead.", self.config.port)
            server.config.port = 0
            server.bind()
        self._server = server
        url = server.start()
        self._wait_until_healthy(url)
        return url

    def _wait_until_healthy(self, url: str) -> None:
        parts = urlsplit(url)
        health = f"{parts.scheme}://{parts.netloc}/healthz"
        deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
        while True:
            try:
                with urllib.request.urlopen(health, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"The server did not answer at {health} within {HEALTH_TIMEOUT_SECONDS:.0f} seconds.")
            time.sleep(0.1)

    def run(self) -> int:
        probe = GuiProbe()  # runs while the server starts
        url = self.start_server()
        print(f">> {APP_NAME} {__version__}; images go to {self.config.outdir}", flush=True)
        unavailable = probe.result()
        if unavailable is not None:
            return self.serve_in_browser(url, unavailable)
        return self.show_window(url)

    # -- the window --------------------------------------------------------------------------

    def show_window(self, url: str) -> int:
        """Opens the window on the main thread and blocks until it is closed; then shuts down."""
        import webview

        as_root = allow_root_webengine()
        if _uses_qt():
            prepare_for_qt()
        window = self._create_window(url)
        signal.signal(signal.SIGTERM, lambda signum, frame: window.destroy())
        self._follow_model()
        storage = self.config.root / WEBVIEW_STORAGE
        print(f">> Opening the desktop window on {url}" + (" (as root, without Chromium's sandbox)" if as_root else ""),
              flush=True)
        try:
            webview.start(
                gui="qt" if _uses_qt() else None,
                localization=DIALOG_TITLES,
                private_mode=False,  # the page keeps its settings (theme, options) between runs
                storage_path=str(storage),
                debug=bool(os.environ.get("INVOKEAI_DESKTOP_DEBUG")),
            )
        except webview.WebViewException as exc:  # no usable GUI back end after all (e.g. Windows without pythonnet)
            self._stop_watching.set()
            return self.serve_in_browser(url, GuiUnavailable(f"pywebview cannot open a window ({exc})"))
        except BaseException:
            self._stop_watching.set()
            self.shut_down()
            raise
        self._stop_watching.set()
        self.settings.window = self._placement
        self.settings.save(self.config.root)
        self.shut_down()
        return 0

    def _create_window(self, url: str) -> Any:
        """The pywebview window with the bridge's four calls, the drop handler and the placement watchers."""
        import webview

        assert self._server is not None
        bridge = DesktopBridge(self._server.studio)
        witness = DropWitness() if _uses_qt() else None
        place = self._placement
        window = webview.create_window(
            self.title(),
            url,
            width=place.width,
            height=place.height,
            x=place.x,
            y=place.y,
            min_size=MIN_SIZE,
            maximized=place.maximized,
            background_color=WINDOW_BACKGROUND,
            text_select=True,  # prompts, seeds and metadata are meant to be copied
        )
        assert window is not None
        self._window = window
        window.expose(*bridge.functions())
        bridge.attach(window, witness)
        if witness is not None:
            window.events.before_show += witness.install_qt
        window.events.loaded += bridge.watch_drops
        window.events.moved += self._moved
        window.events.resized += self._resized
        window.events.maximized += lambda: setattr(self._placement, "maximized", True)
        window.events.restored += lambda: setattr(self._placement, "maximized", False)
        window.events.closing += self._closing
        return window

    def title(self, model: str | None = None) -> str:
        model = model or self.config.model
        return f"{APP_NAME} — {model}" if model else APP_NAME

    def _follow_model(self) -> None:
        """Keeps the title on the model the engine has loaded (it loads after the window opens, and
        the user may switch): the title follows the studio's systemConfig broadcasts."""
        assert self._server is not None
        shown = [self.config.model]

        def show(facts: Any) -> None:
            model = facts.get("model_id") if isinstance(facts, dict) and facts.get("model_loaded") else None
            if model and model != shown[0] and self._window is not None and not self._stop_watching.is_set():
                shown[0] = model
                self._window.set_title(self.title(model))

        self._server.publisher.subscribe(lambda event, data: show(data) if event == "systemConfig" else None)
        show(self._server.studio.system_config())  # it may have loaded already

    def _moved(self, x: int, y: int) -> None:
        if not self._placement.maximized:
            self._placement.x, self._placement.y = int(x), int(y)

    def _resized(self, width: int, height: int) -> None:
        if not self._placement.maximized:
            self._placement.width, self._placement.height = int(width), int(height)

    def _closing(self) -> None:
        log.info("Closing the window.")

    # -- shut-down ---------------------------------------------------------------------------

    def shut_down(self) -> None:
        """Stops the server: the running job is canceled or finished, waiting jobs stay queued on disk."""
        if self._server is None:
            return
        running = self._server.studio.jobs.running
        if running is not None and self.on_close == "finish":
            print(f">> Finishing the running job before exiting: {running.summary}", flush=True)
        elif running is not None:
            print(f">> Canceling the running job: {running.summary}", flush=True)
        self._server.shutdown(cancel_running=self.on_close == "cancel")
        self._server = None
        print(">> Stopped.", flush=True)

    # -- the browser fallback ----------------------------------------------------------------

    def serve_in_browser(self, url: str, unavailable: GuiUnavailable) -> int:
        """No window: say why, open the default browser and keep serving until Ctrl-C or SIGTERM."""
        print(
            f">> The desktop window cannot open: {unavailable.reason}. To fix it, {unavailable.fix}. "
            f"Opening {url} in your web browser instead.",
            flush=True,
        )
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        try:
            if not webbrowser.open(url):
                print(f">> No web browser could be started; open {url} yourself.", flush=True)
        except webbrowser.Error as exc:
            print(f">> No web browser could be started ({exc}); open {url} yourself.", flush=True)
        while not stop.wait(0.5):
            pass
        self.shut_down()
        return 0


def on_close_choice(requested: str | None, settings: DesktopSettings) -> str:
    """``--on_close`` when given, else the settings file's choice (default: cancel)."""
    choice = requested or settings.on_close
    if choice not in ON_CLOSE_CHOICES:
        raise ValueError(f"--on_close must be one of {', '.join(ON_CLOSE_CHOICES)}, not {choice!r}.")
    return choice


def run(config: ServerConfig, on_close: str | None = None, free_port_ok: bool = False) -> int:
    """``invokeai --gui``: the server plus a native window (or the browser when none can open).
    ``main`` builds ``config`` from the flags; with ``free_port_ok`` a taken default port is no error."""
    from invokeai_gui.server import PortInUseError

    config.allow_eval = True  # pywebview's bridge evaluates strings in the page (see routes.content_security_policy)
    settings = DesktopSettings.load(config.root)
    try:
        choice = on_close_choice(on_close, settings)
    except ValueError as exc:
        print(f"invokeai: {exc}", file=sys.stderr)
        return 2
    app = DesktopApp(config, settings, choice, free_port_ok=free_port_ok)
    try:
        return app.run()
    except PortInUseError as exc:
        print(f"invokeai: {exc.strerror}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        app.shut_down()
        return 0


__all__ = ["DesktopApp", "GuiProbe", "GuiUnavailable", "allow_root_webengine", "run"]
