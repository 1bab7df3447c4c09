"""Runs ``invokeai --gui`` for desktop tests, as a user's process on a virtual display, and drives it.

The window is found through X (python-xlib), the page inside it is read and driven over
QtWebEngine's own DevTools switch (``QTWEBENGINE_REMOTE_DEBUGGING``), and input goes in as
real X mouse and keyboard events (xdotool).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import free_port
from tests.support.devtools import DevToolsPage
from tests.support.xvfb import Geometry, VirtualDisplay, XSession, screenshot, xdotool

REPO = Path(__file__).resolve().parents[2]
OPENED = re.compile(r"Opening the desktop window on (\S+)")


class RunningDesktop:
    """One ``python -m invokeai_gui --gui`` process on ``display``, its window and its page."""

    def __init__(
        self,
        display: VirtualDisplay,
        root: Path,
        log_path: Path,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.display = display
        self.root = root
        self.log_path = log_path
        self.devtools_port = free_port()
        environment = display.env(env)
        environment.update(
            HF_HUB_OFFLINE="1",
            PYTHONUNBUFFERED="1",
            QTWEBENGINE_REMOTE_DEBUGGING=f"127.0.0.1:{self.devtools_port}",
        )
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "invokeai_gui", "--gui", "--root", str(root), "--port", "0", *args],
            cwd=REPO,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.x = XSession(display.name)
        self.window_id = 0
        self.page: DevToolsPage | None = None
        self.url = ""

    # -- start-up ---------------------------------------------------------------------------

    def wait_for_window(self, timeout: float = 120.0) -> int:
        deadline = time.monotonic() + timeout
        while not self.window_id:
            if self.process.poll() is not None:
                raise AssertionError(f"invokeai --gui exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            found = self.x.windows(pid=self.process.pid, title="InvokeAI")
            if found:
                self.window_id = found[0][0]
            elif time.monotonic() > deadline:
                raise TimeoutError(f"No InvokeAI window appeared.\n{self.log()[-3000:]}")
            else:
                time.sleep(0.25)
        match = OPENED.search(self.log())
        self.url = match.group(1) if match else ""
        return self.window_id

    def wait_until_ready(self, timeout: float = 180.0) -> DevToolsPage:
        """The window is up, the page says Connected and the model is loaded (Invoke is enabled)."""
        self.wait_for_window(timeout)
        self.page = DevToolsPage(self.devtools_port, url_prefix=self.url or "http://", timeout=timeout)
        self.page.wait_for(
            "document.querySelector('[data-testid=connection-status]')?.textContent?.includes('Connected')",
            timeout=timeout, what="the Connected status",
        )
        self.page.wait_for("typeof window.pywebview?.api?.openImage === 'function'",
                           timeout=timeout, what="the desktop bridge")
        self.page.wait_for("document.querySelector('[data-testid=model-picker]')?.value === 'demo'",
                           timeout=timeout, what="the demo model in the model picker")
        return self.page

    # -- input, as a user gives it ------------------------------------------------------------

    def geometry(self) -> Geometry:
        return self.x.geometry(self.window_id)

    def point(self, selector: str) -> tuple[int, int]:
        """The screen position of an element's centre (the page fills the window; 1 CSS px = 1 px)."""
        assert self.page is not None
        rect = self.page.rect(selector)
        geo = self.geometry()
        return geo.x + int(rect["x"] + rect["width"] / 2), geo.y + int(rect["y"] + rect["height"] / 2)

    def click(self, selector: str) -> None:
        x, y = self.point(selector)
        xdotool(self.display.name, "mousemove", x, y)
        time.sleep(0.1)
        xdotool(self.display.name, "click", 1)

    def type_into(self, selector: str, text: str, enter: bool = True) -> None:
        """Types ``text`` over a field's content with the keyboard, then presses Enter (which the
        number fields take as "commit"). Focus and select-all go through the page, because a click
        on a field with suggestions opens a popup that would swallow the keys."""
        assert self.page is not None
        self.page.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView({{block: 'center'}});"
            " e.focus(); e.select(); })()"
        )
        time.sleep(0.1)
        xdotool(self.display.name, "type", "--delay", "8", text)
        if enter:
            xdotool(self.display.name, "key", "Return")
        time.sleep(0.1)
        self.page.evaluate("document.activeElement?.blur()")

    def snapshot(self, path: Path) -> Path:
        """A screenshot of the window, with the pointer moved off it first (no stray tooltips)."""
        xdotool(self.display.name, "mousemove", self.display.width - 1, self.display.height - 1)
        time.sleep(0.4)
        return screenshot(self.display.name, path, self.window_id)

    # -- the end -----------------------------------------------------------------------------

    def close_window(self) -> None:
        self.x.close_window(self.window_id)

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"invokeai --gui did not exit within {timeout} s.\n{self.log()[-3000:]}") from None

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Test clean-up: whatever state the test left it in, the process is gone afterwards."""
        if self.page is not None:
            self.page.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.x.close()
        self._log.close()


def fake_program(bin_dir: Path, name: str, record: Path) -> Path:
    """An executable ``name`` in ``bin_dir`` that appends its arguments (one per line) to ``record``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / name
    script.write_text(
        "#!/bin/sh\n"
        f'for a in "$@"; do printf "%s\\n" "$a" >> "{record}"; done\n'
        f'printf -- "--\\n" >> "{record}"\n'
    )
    script.chmod(0o755)
    return script


def path_with(bin_dir: Path) -> str:
    return f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
