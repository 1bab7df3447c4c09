"""Issue 21 item 10: no other site may frame the studio, and the UI's own policy lets the bundle run."""

from __future__ import annotations

import functools
import http.server
import json
import threading
import time
import urllib.request
from pathlib import Path

import requests
import websocket
from PIL import Image

from .browser import chromium_page, violations

# DevTools lets its own expression evaluate strings; a timer callback runs as page code does.
LATER_EVAL = """new Promise((resolve) => setTimeout(() => {
  try { eval('1 + 1'); new Function('return 1')(); resolve('ran'); } catch (e) { resolve(e.name); }
}, 0))"""


def _frame_shows(devtools_port: int) -> str:
    """'studio' when the iframe shows the studio's page, 'blocked' for Chromium's error page."""
    with urllib.request.urlopen(f"http://127.0.0.1:{devtools_port}/json", timeout=5) as r:
        frames = [t for t in json.load(r) if t.get("type") == "iframe"]
    if not frames:
        return "loading"
    ws = websocket.create_connection(frames[0]["webSocketDebuggerUrl"], timeout=10, suppress_origin=True)
    try:
        ws.send(json.dumps({"id": 1, "method": "Runtime.evaluate", "params": {
            "expression": "document.getElementById('root') ? 'studio' : (document.readyState === 'complete' ? "
                          "'blocked' : 'loading')", "returnByValue": True}}))
        while True:
            reply = json.loads(ws.recv())
            if reply.get("id") == 1:
                return reply.get("result", {}).get("result", {}).get("value") or "loading"
    finally:
        ws.close()


def _image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), (200, 30, 30)).save(path)


def test_every_response_refuses_to_be_framed(server_factory) -> None:
    server = server_factory(load_model_at_start=False)
    _image(server.studio.outdir / "000001.1.png")
    base = f"http://127.0.0.1:{server.port}"
    asset = next((server.config.frontend_dir / "assets").glob("*.js")).name
    for path in ["/", "/index.html", f"/assets/{asset}", "/outputs/000001.1.png", "/thumbnails/000001.1.png.webp",
                 "/healthz", "/outputs/missing.png"]:
        r = requests.get(base + path, timeout=10)
        assert r.headers.get("X-Frame-Options") == "DENY", path
        assert "frame-ancestors 'none'" in r.headers.get("Content-Security-Policy", ""), path


def test_the_ui_page_allows_only_its_own_scripts(server_factory) -> None:
    server = server_factory(load_model_at_start=False)
    policy = requests.get(f"http://127.0.0.1:{server.port}/", timeout=10).headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    scripts = directives["script-src"].split()
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
    assert "'self'" in scripts and any(s.startswith("'sha256-") for s in scripts)  # the theme script
    assert directives["object-src"] == "'none'"


def test_the_desktop_window_page_lets_the_pywebview_bridge_evaluate(server_factory) -> None:
    server = server_factory(load_model_at_start=False, allow_eval=True)
    policy = requests.get(f"http://127.0.0.1:{server.port}/", timeout=10).headers["Content-Security-Policy"]
    assert "'unsafe-eval'" in policy and "frame-ancestors 'none'" in policy


def test_the_ui_loads_in_chromium_without_a_policy_violation(server_factory, tmp_path: Path) -> None:
    server = server_factory(load_model_at_start=False)
    _image(server.studio.outdir / "000001.1.png")
    url = f"http://127.0.0.1:{server.port}/"
    with chromium_page(tmp_path / "chromium") as page:
        page.send("Page.navigate", url=url)
        page.wait_for("document.querySelector('[data-testid=\"connection-status\"]')?.textContent === 'Connected'",
                      timeout=60, what="the UI to connect")
        page.wait_for("[...document.images].some(i => i.complete && i.naturalWidth > 0 && i.src.includes('000001'))",
                      timeout=30, what="the gallery thumbnail")
        for tab in ["img2img", "inpainting", "outpainting", "canvas", "postprocessing", "txt2img"]:
            page.evaluate(f"document.querySelector('[data-testid=\"tab-{tab}\"]')?.click(), true")
            time.sleep(0.3)
        # The theme script ran (it is inline, allowed by its hash) and the page is not in an error state.
        assert page.evaluate("document.documentElement.dataset.theme") in ("dark", "light")
        assert violations(page) == []
        # What the desktop window's bridge needs is refused here, where it is not allowed:
        assert page.evaluate(LATER_EVAL) == "EvalError"


def test_the_desktop_page_runs_the_bridge_style_eval_in_chromium(server_factory, tmp_path: Path) -> None:
    server = server_factory(load_model_at_start=False, allow_eval=True)
    with chromium_page(tmp_path / "chromium") as page:
        page.send("Page.navigate", url=f"http://127.0.0.1:{server.port}/")
        page.wait_for("document.querySelector('[data-testid=\"connection-status\"]')?.textContent === 'Connected'",
                      timeout=60, what="the UI to connect")
        # pywebview's evaluate_js wraps scripts in eval(); its API stubs are new Function(...).
        assert page.evaluate(LATER_EVAL) == "ran"
        assert violations(page) == []


def test_a_page_of_another_origin_cannot_frame_the_ui(server_factory, tmp_path: Path) -> None:
    server = server_factory(load_model_at_start=False)
    site = tmp_path / "site"
    site.mkdir()
    (site / "framing.html").write_text(f'<iframe src="http://127.0.0.1:{server.port}/"></iframe>')
    other = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site)))
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        with chromium_page(tmp_path / "chromium") as page:
            page.send("Page.navigate", url=f"http://localhost:{other.server_port}/framing.html")
            # The frame has its own DevTools target (another process); ask it what it shows.
            deadline = time.monotonic() + 15
            shown = None
            while shown is None or shown == "loading":
                assert time.monotonic() < deadline, f"the iframe never settled ({shown})"
                time.sleep(0.5)
                shown = _frame_shows(page.port)
            assert shown == "blocked", shown
    finally:
        other.shutdown()
        other.server_close()
