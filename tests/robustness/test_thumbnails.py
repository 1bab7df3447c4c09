"""Issue 21 item 4: first-time thumbnails of huge pictures are bounded in memory: one build per file (the
others wait for it), a small pool, a decoded-pixel budget, JPEG decoded reduced. Peak RSS is measured
in this process, which is the server's (server_factory runs it in a thread here)."""

from __future__ import annotations

import gc
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from PIL import Image

from invokeai_gui.server.gallery import release_free_memory

MB = 1024 * 1024
SIZE = (8192, 8191)  # just under the 64-megapixel upload limit, as in the issue


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith(key)).split()[1])


class PeakGrowth:
    """Peak RSS growth (bytes) over a block: the kernel's high-water mark, reset at the start."""

    def __enter__(self) -> PeakGrowth:
        gc.collect()
        release_free_memory()  # so the start is what the process really uses, not what malloc keeps
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM to the current RSS
        except OSError:
            pytest.skip("this kernel does not let a process reset its peak RSS")
        self.start = _status_kb("VmRSS")
        return self

    def __exit__(self, *exc: object) -> None:
        self.bytes = (_status_kb("VmHWM") - self.start) * 1024
        print(f"peak RSS growth: {self.bytes / MB:.0f} MB")


def flat_png(path: Path, size: tuple[int, int], colour: tuple[int, int, int], band: int) -> Path:
    """A PNG of one colour with a white band of rows at ``band``, streamed (no full picture in memory)."""
    width, height = size

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    plain, white = b"\x00" + bytes(colour) * width, b"\x00" + b"\xff" * 3 * width
    deflate = zlib.compressobj(6)
    data = [deflate.compress(white if band <= y < band + 64 else plain) for y in range(height)]
    data.append(deflate.flush())
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", b"".join(data)) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def huge_pngs(tmp_path_factory) -> list[Path]:
    """Six different 8192x8191 PNGs of a few hundred KB each."""
    folder = tmp_path_factory.mktemp("huge")
    return [flat_png(folder / f"huge-{i}.png", SIZE, (90, 20 * i, 200), band=1000 * i) for i in range(6)]


def _get_all(urls: list[str]) -> list[requests.Response]:
    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(lambda u: requests.get(u, timeout=300), urls))


def _serve(server_factory, files: list[Path]) -> tuple[object, list[str]]:
    server = server_factory(load_model_at_start=False)
    names = []
    for path in files:
        target = server.studio.outdir / "init-images" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
        names.append(f"init-images/{path.name}")
    return server, [f"http://127.0.0.1:{server.port}/thumbnails/{n}.webp" for n in names]


def test_six_first_time_requests_for_one_huge_png_build_it_once(server_factory, huge_pngs) -> None:
    assert huge_pngs[0].stat().st_size < 2 * MB
    server, urls = _serve(server_factory, huge_pngs[:1])
    with PeakGrowth() as peak:
        answers = _get_all(urls * 6)
    assert [r.status_code for r in answers] == [200] * 6
    assert len({r.content for r in answers}) == 1
    with Image.open(server.studio.gallery.thumbnail_path("init-images/huge-0.png")) as thumb:
        assert max(thumb.size) == 256
    assert server.studio.gallery.thumbnails_built == 1
    assert peak.bytes < 400 * MB, f"peak RSS grew by {peak.bytes / MB:.0f} MB"


def test_six_different_huge_pngs_at_once_stay_within_the_budget(server_factory, huge_pngs) -> None:
    server, urls = _serve(server_factory, huge_pngs)
    with PeakGrowth() as peak:
        answers = _get_all(urls)
    assert [r.status_code for r in answers] == [200] * 6
    assert server.studio.gallery.thumbnails_built == 6
    assert peak.bytes < 1200 * MB, f"peak RSS grew by {peak.bytes / MB:.0f} MB"


def test_a_huge_jpeg_is_decoded_reduced(server_factory, tmp_path) -> None:
    path = tmp_path / "huge.jpg"
    Image.new("RGB", SIZE, (200, 100, 50)).save(path, quality=80)
    gc.collect()
    server, urls = _serve(server_factory, [path])
    with PeakGrowth() as peak:
        answers = _get_all(urls * 3)
    assert [r.status_code for r in answers] == [200] * 3
    assert peak.bytes < 100 * MB, f"peak RSS grew by {peak.bytes / MB:.0f} MB"


def _png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_a_png_declaring_billions_of_pixels_is_a_404_not_a_500(server_factory, tmp_path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_declaring(60000, 60000))
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(_png_declaring(9000, 9000))
    server, urls = _serve(server_factory, [bomb, truncated])
    with PeakGrowth() as peak:
        answers = _get_all(urls)
    assert [r.status_code for r in answers] == [404, 404], [r.text[:200] for r in answers]
    assert peak.bytes < 400 * MB
