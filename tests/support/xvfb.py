"""A virtual X display for desktop tests, and the X calls they need: find a window, close it as a
user would, read its geometry, drive the mouse and keyboard (xdotool) and take screenshots.

Missing tools are an error, never a skip: the desktop suite must not pass on a machine that
cannot run it. ``make sysdeps`` installs them (Xvfb, xdotool).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

APT_HINT = "sudo apt-get install xvfb xdotool (or run `make sysdeps`)"


class DesktopToolMissing(RuntimeError):
    pass


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise DesktopToolMissing(f"The desktop tests need `{name}`, which is not installed: {APT_HINT}.")
    return path


class VirtualDisplay:
    """An Xvfb server on a display number it picks itself (``-displayfd``), so parallel runs never clash."""

    def __init__(self, width: int = 1920, height: int = 1200) -> None:
        self.width, self.height = width, height
        self.process: subprocess.Popen[bytes] | None = None
        self.name = ""

    def start(self, timeout: float = 20.0) -> VirtualDisplay:
        xvfb = require_tool("Xvfb")
        read_fd, write_fd = os.pipe()
        self.process = subprocess.Popen(
            [xvfb, "-displayfd", str(write_fd), "-screen", "0", f"{self.width}x{self.height}x24",
             "-nolisten", "tcp", "-noreset", "+extension", "RANDR"],
            pass_fds=(write_fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        number = b""
        deadline = time.monotonic() + timeout
        with os.fdopen(read_fd, "rb") as pipe:
            while not number.endswith(b"\n"):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise DesktopToolMissing("Xvfb did not start (no display number came back).")
                chunk = pipe.read(1)
                if not chunk:
                    break
                number += chunk
        self.name = f":{number.decode().strip()}"
        return self

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env["DISPLAY"] = self.name
        env.pop("WAYLAND_DISPLAY", None)
        return env

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> VirtualDisplay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Geometry:
    x: int
    y: int
    width: int
    height: int


class XSession:
    """A python-xlib connection to one display: the window queries and the WM_DELETE_WINDOW close."""

    def __init__(self, display_name: str) -> None:
        from Xlib import display

        self.name = display_name
        self.display = display.Display(display_name)
        self.root = self.display.screen().root
        self._atom = self.display.intern_atom

    def close(self) -> None:
        self.display.close()

    def _title(self, window: object) -> str:
        from Xlib.error import XError

        try:
            prop = window.get_full_property(self._atom("_NET_WM_NAME"), self._atom("UTF8_STRING"))  # type: ignore[attr-defined]
            if prop is not None:
                value = prop.value
                return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            name = window.get_wm_name()  # type: ignore[attr-defined]
            return name if isinstance(name, str) else (name or b"").decode("latin-1")
        except XError:
            return ""

    def _pid(self, window: object) -> int | None:
        from Xlib import Xatom
        from Xlib.error import XError

        try:
            prop = window.get_full_property(self._atom("_NET_WM_PID"), Xatom.CARDINAL)  # type: ignore[attr-defined]
        except XError:
            return None
        return int(prop.value[0]) if prop is not None and len(prop.value) else None

    def _top_levels(self) -> list[object]:
        from Xlib.error import XError

        windows = []
        for child in self.root.query_tree().children:
            windows.append(child)
            try:  # a window manager would have reparented top-level windows one level down
                windows.extend(child.query_tree().children)
            except XError:
                continue
        return windows

    def windows(self, pid: int | None = None, title: str | None = None) -> list[tuple[int, str]]:
        """Mapped top-level windows (id, title), filtered by owning process and title substring."""
        from Xlib import X
        from Xlib.error import XError

        found = []
        for window in self._top_levels():
            try:
                if window.get_attributes().map_state != X.IsViewable:  # type: ignore[attr-defined]
                    continue
            except XError:
                continue
            name = self._title(window)
            if title is not None and title not in name:
                continue
            if pid is not None and self._pid(window) != pid:
                continue
            found.append((window.id, name))  # type: ignore[attr-defined]
        return found

    def wait_for_window(self, pid: int | None = None, title: str | None = None, timeout: float = 90.0) -> int:
        deadline = time.monotonic() + timeout
        while True:
            found = self.windows(pid, title)
            if found:
                return found[0][0]
            if time.monotonic() > deadline:
                raise TimeoutError(f"No window (pid={pid}, title containing {title!r}) appeared on {self.name}.")
            time.sleep(0.25)

    def title(self, window_id: int) -> str:
        return self._title(self.display.create_resource_object("window", window_id))

    def geometry(self, window_id: int) -> Geometry:
        """Position on the screen and size of the window."""
        window = self.display.create_resource_object("window", window_id)
        geo = window.get_geometry()
        origin = window.translate_coords(self.root, 0, 0)
        return Geometry(-origin.x, -origin.y, geo.width, geo.height)

    def exists(self, window_id: int) -> bool:
        from Xlib.error import XError

        try:
            self.display.create_resource_object("window", window_id).get_attributes()
            return True
        except XError:
            return False

    def close_window(self, window_id: int) -> None:
        """What a title bar's close button does: a WM_DELETE_WINDOW message the app may act on."""
        from Xlib import X
        from Xlib.protocol import event

        window = self.display.create_resource_object("window", window_id)
        message = event.ClientMessage(
            window=window,
            client_type=self._atom("WM_PROTOCOLS"),
            data=(32, [self._atom("WM_DELETE_WINDOW"), X.CurrentTime, 0, 0, 0]),
        )
        window.send_event(message, event_mask=X.NoEventMask)
        self.display.flush()


def xdotool(display_name: str, *args: str | int, timeout: float = 30.0) -> str:
    """Runs xdotool against ``display_name``; returns its output."""
    tool = require_tool("xdotool")
    env = dict(os.environ, DISPLAY=display_name)
    done = subprocess.run([tool, *map(str, args)], env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"xdotool {' '.join(map(str, args))} failed: {done.stderr.strip()}")
    return done.stdout


def screenshot(display_name: str, path: Path, window_id: int | None = None) -> Path:
    """A PNG of the whole screen, or of one window's area of it, read from the X server."""
    from PIL import Image
    from Xlib import X

    session = XSession(display_name)
    try:
        if window_id is None:
            screen = session.display.screen()
            box = Geometry(0, 0, screen.width_in_pixels, screen.height_in_pixels)
        else:
            box = session.geometry(window_id)
        raw = session.root.get_image(box.x, box.y, box.width, box.height, X.ZPixmap, 0xFFFFFFFF)
        image = Image.frombytes("RGB", (box.width, box.height), raw.data, "raw", "BGRX")
    finally:
        session.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def drag(display_name: str, start: tuple[int, int], end: tuple[int, int], steps: int = 12, hover: float = 1.5) -> None:
    """Presses at ``start``, moves in steps to ``end``, hovers there a while and releases.

    The hover matters: the web view answers each move asynchronously (its renderer decides whether
    the page accepts the drop), and a release before that answer drops onto nothing.
    """
    xdotool(display_name, "mousemove", *start)
    time.sleep(0.3)
    xdotool(display_name, "mousedown", 1)
    time.sleep(0.3)
    (x0, y0), (x1, y1) = start, end
    for i in range(1, steps + 1):
        xdotool(display_name, "mousemove", x0 + (x1 - x0) * i // steps, y0 + (y1 - y0) * i // steps)
        time.sleep(0.08)
    wiggles = max(2, int(hover / 0.25))
    for i in range(wiggles):
        offset = 2 if i % 2 else -2
        xdotool(display_name, "mousemove", x1 + offset, y1 + offset)
        time.sleep(0.25)
    xdotool(display_name, "mouseup", 1)
