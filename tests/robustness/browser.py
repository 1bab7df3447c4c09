"""Debian's Chromium, headless, driven over the DevTools protocol (tests/support/devtools.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.support.devtools import DevToolsPage

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"

# Records every Content-Security-Policy violation the page meets, from before its first script.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push({directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample});
});
"""


@contextmanager
def chromium_page(tmp: Path) -> Iterator[DevToolsPage]:
    """A blank page in a fresh headless Chromium; skips the test when Chromium is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (make test installs Debian's chromium)")
    port = free_port()
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp}",
         f"--remote-debugging-port={port}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    page = None
    try:
        page = DevToolsPage(port, url_prefix="about:blank")
        page.send("Page.enable")
        page.send("Page.addScriptToEvaluateOnNewDocument", source=RECORD_VIOLATIONS)
        yield page
    finally:
        if page is not None:
            page.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def violations(page: DevToolsPage) -> list[dict]:
    return json.loads(page.evaluate("JSON.stringify(window.__cspViolations || [])"))
