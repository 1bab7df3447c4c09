"""Issue 21 item 11: deleting a symlink inside the output folder removes the link, never its target."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from invokeai_gui.server.security import UnsafePathError, entry_inside


def _folder(tmp_path: Path) -> tuple[Path, Path]:
    outdir = tmp_path / "out"
    (outdir / "init-images").mkdir(parents=True)
    precious = tmp_path / "elsewhere" / "precious.png"
    precious.parent.mkdir()
    Image.new("RGB", (8, 8)).save(precious)
    (outdir / "link.png").symlink_to(precious)
    (outdir / "init-images" / "link2.png").symlink_to(precious)
    (outdir / "dangling.png").symlink_to(tmp_path / "gone.png")
    Image.new("RGB", (8, 8)).save(outdir / "real.png")
    return outdir, precious


def test_entry_inside_names_the_link_not_its_target(tmp_path) -> None:
    outdir, precious = _folder(tmp_path)
    root = outdir.resolve()
    assert entry_inside(outdir, "link.png") == root / "link.png"
    assert entry_inside(outdir, "init-images/link2.png") == root / "init-images" / "link2.png"
    assert entry_inside(outdir, "dangling.png").is_symlink()
    assert entry_inside(outdir, "real.png") == root / "real.png"
    entry_inside(outdir, "link.png").unlink()
    assert precious.exists()


def test_entry_inside_refuses_what_relative_inside_refuses(tmp_path) -> None:
    outdir, _ = _folder(tmp_path)
    (outdir / "away").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    for bad in ["../elsewhere/precious.png", "/etc/passwd", "away/precious.png", "a\\b.png", "x" * 300 + ".png", ""]:
        with pytest.raises(UnsafePathError):
            entry_inside(outdir, bad)
    with pytest.raises(FileNotFoundError):
        entry_inside(outdir, "missing.png")


def test_delete_image_of_a_link_trashes_the_link(server_factory, connect, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # send2trash's trash folder
    server = server_factory(load_model_at_start=False)
    precious = tmp_path / "precious.png"
    Image.new("RGB", (8, 8), (9, 9, 9)).save(precious)
    (server.studio.outdir / "000001.1.png").symlink_to(precious)
    client = connect(f"http://127.0.0.1:{server.port}")
    client.emit("deleteImage", "outputs/000001.1.png", "u", "result")
    client.wait_for("imageDeleted", timeout=20)
    assert not (server.studio.outdir / "000001.1.png").is_symlink() and precious.exists()
