"""Issue 21 item 6: an oversized upload gets an answer that names its size and the limit, precisely
enough that a file one byte over does not read as equal to the limit."""

from __future__ import annotations

import time

import pytest

from invokeai_gui.server.uploads import UploadLimits, sizes_that_differ, too_big_message

LIMIT = UploadLimits().max_bytes  # 50 MiB, the server's default


@pytest.mark.parametrize("size, expected", [
    (LIMIT + 1, ("52,428,801 bytes", "52,428,800 bytes")),
    (LIMIT + 1000, ("52.430 MB", "52.429 MB")),
    (LIMIT + 10_000, ("52.44 MB", "52.43 MB")),
    (60 * 1024 * 1024, ("62.9 MB", "52.4 MB")),
    (1450, ("1,450 bytes", "1,400 bytes")),
])
def test_sizes_over_a_limit_never_read_as_the_limit(size: int, expected: tuple[str, str]) -> None:
    limit = 1400 if size < 10_000 else LIMIT
    assert sizes_that_differ(size, limit) == expected
    assert too_big_message("x.png", size, limit) == f"x.png is {expected[0]}; the limit is {expected[1]}."


def _upload_answer(server_factory, connect, size: int) -> tuple[dict, bool]:
    server = server_factory(load_model_at_start=False)
    client = connect(f"http://127.0.0.1:{server.port}")
    client.emit("uploadImage", b"\0" * size, "big.png", "img2img")
    error = client.wait_for("error", timeout=20)[0]
    time.sleep(0.5)
    return error, client.client.connected


def test_one_byte_over_the_limit_answers_an_error_with_both_sizes(server_factory, connect) -> None:
    error, connected = _upload_answer(server_factory, connect, LIMIT + 1)
    assert error["message"] == "The uploaded file is 52,428,801 bytes; the limit is 52,428,800 bytes.", error
    assert connected


def test_up_to_twice_the_limit_answers_an_error_and_stays_connected(server_factory, connect) -> None:
    error, connected = _upload_answer(server_factory, connect, LIMIT * 3 // 2)
    assert "the limit is 52.4 MB" in error["message"] and connected


def test_the_ui_refuses_a_too_big_file_before_sending_it(server_factory, tmp_path) -> None:
    from .browser import chromium_page

    server = server_factory(load_model_at_start=False)
    big = tmp_path / "big.png"
    with open(big, "wb") as f:
        f.truncate(60 * 1024 * 1024)
    with chromium_page(tmp_path / "chromium") as page:
        page.send("Page.navigate", url=f"http://127.0.0.1:{server.port}/")
        page.wait_for("document.querySelector('[data-testid=\"connection-status\"]')?.textContent === 'Connected'",
                      timeout=60, what="the UI to connect")
        page.evaluate("document.querySelector('[data-testid=\"tab-img2img\"]').click(), true")
        page.wait_for("!!document.querySelector('input[type=file]')", what="the image chooser")
        handle = page.send("Runtime.evaluate", expression="document.querySelector('input[type=file]')")
        page.send("DOM.setFileInputFiles", files=[str(big)], objectId=handle["result"]["objectId"])
        toast = page.wait_for("document.querySelector('[data-testid=\"toast-error\"]')?.textContent", what="the toast")
        assert "big.png is 62.9 MB; the limit is 52.4 MB" in toast, toast
        assert page.evaluate("document.querySelector('[data-testid=\"connection-status\"]').textContent") == "Connected"
    uploads = server.studio.outdir / "init-images"
    assert not (uploads.exists() and list(uploads.iterdir())), "nothing reached the server"
