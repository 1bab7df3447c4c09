"""A small Chrome DevTools Protocol client for desktop tests: reads and drives the page inside the window.

QtWebEngine serves the protocol when the app runs with ``QTWEBENGINE_REMOTE_DEBUGGING=127.0.0.1:PORT``
in its environment, a switch of Qt itself, so the app carries no test-only code path for it.
"""

from __future__ import annotations

import itertools
import json
import time
import urllib.request
from typing import Any

import websocket


class DevToolsError(RuntimeError):
    pass


class DevToolsPage:
    """One page target (the studio inside the window), talked to over its DevTools websocket."""

    def __init__(self, port: int, url_prefix: str = "http://", timeout: float = 60.0) -> None:
        self.port = port
        deadline = time.monotonic() + timeout
        target = None
        while target is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=2) as r:
                    targets = json.load(r)
                target = next((t for t in targets if t.get("type") == "page" and t.get("url", "").startswith(url_prefix)), None)
            except OSError:
                target = None
            if target is None:
                if time.monotonic() > deadline:
                    raise DevToolsError(f"No page at {url_prefix}... appeared on DevTools port {port}.")
                time.sleep(0.3)
        self.url = target["url"]
        self._ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=timeout, suppress_origin=True)
        self._ids = itertools.count(1)

    def close(self) -> None:
        try:
            self._ws.close()
        except Exception:
            pass

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self._ids)
        self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self._ws.recv())
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise DevToolsError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression: str, await_promise: bool = True) -> Any:
        """The JSON value of a JavaScript expression in the page (a promise is awaited)."""
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=await_promise, returnByValue=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise DevToolsError(f"JavaScript error: {text}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30.0, what: str | None = None) -> Any:
        """Polls until ``expression`` is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                last = self.evaluate(expression)
            except DevToolsError as exc:
                last = exc
            if last and not isinstance(last, Exception):
                return last
            if time.monotonic() > deadline:
                raise TimeoutError(f"Timed out waiting for {what or expression} (last value: {last!r}).")
            time.sleep(0.2)

    def text(self, selector: str) -> str | None:
        return self.evaluate(f"document.querySelector({json.dumps(selector)})?.textContent ?? null")

    def rect(self, selector: str) -> dict[str, float]:
        """The element's box in CSS pixels of the viewport, scrolled into view first."""
        rect = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return {x: r.x, y: r.y, width: r.width, height: r.height}; })()"
        )
        if not rect:
            raise DevToolsError(f"No element matches {selector}.")
        return rect
