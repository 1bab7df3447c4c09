"""The gallery index: pages in (mtime, name) order, cursors at ties, following the disk, thumbnails."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from invokeai_gui.server.gallery import GalleryIndex, category_of
from invokeai_gui.server.security import UnsafePathError


def write_png(path: Path, size: tuple[int, int] = (16, 8), text: dict[str, str] | None = None,
              mtime: float | None = None) -> Path:
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (120, 30, 60)).save(path, format="PNG", pnginfo=info)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def outdir(tmp_path: Path) -> Path:
    return tmp_path / "outputs"


def open_index(tmp_path: Path, outdir: Path) -> GalleryIndex:
    outdir.mkdir(parents=True, exist_ok=True)
    index = GalleryIndex(outdir, tmp_path / "db" / "gallery.sqlite3", tmp_path / "thumbs", page_size=50)
    index.reconcile()
    return index


def names(images: list[dict]) -> list[str]:
    return [i["url"].rpartition("/")[2] for i in images]


def test_pages_are_newest_first_and_say_whether_more_remain(tmp_path, outdir):
    for n in range(120):
        write_png(outdir / f"{n:06d}.1.png", mtime=1_000_000 + n)
    index = open_index(tmp_path, outdir)
    first, more = index.page("result")
    assert names(first) == [f"{n:06d}.1.png" for n in range(119, 69, -1)] and more
    second, more = index.page("result", first[-1]["mtime"], names(first)[-1])
    assert names(second) == [f"{n:06d}.1.png" for n in range(69, 19, -1)] and more
    third, more = index.page("result", second[-1]["mtime"], names(second)[-1])
    assert names(third) == [f"{n:06d}.1.png" for n in range(19, -1, -1)] and not more


@pytest.mark.parametrize("count,expect_more", [(49, False), (50, False), (51, True)])
def test_are_more_images_available_at_the_page_boundary(tmp_path, outdir, count, expect_more):
    for n in range(count):
        write_png(outdir / f"{n:03d}.png", mtime=5000 + n)
    images, more = open_index(tmp_path, outdir).page("result")
    assert len(images) == min(count, 50) and more is expect_more


def test_ties_in_mtime_are_neither_lost_nor_repeated_with_the_exact_cursor(tmp_path, outdir):
    # 130 files sharing a handful of mtimes: a cursor of mtime alone would lose some.
    for n in range(130):
        write_png(outdir / f"img{n:03d}.png", mtime=2_000_000 + n // 40)
    index = open_index(tmp_path, outdir)
    seen: list[str] = []
    cursor: tuple[float | None, str | None] = (None, None)
    while True:
        images, more = index.page("result", *cursor)
        seen += names(images)
        if not more:
            break
        cursor = (images[-1]["mtime"], names(images)[-1])
    assert len(seen) == 130 and len(set(seen)) == 130
    expected = sorted((f"img{n:03d}.png" for n in range(130)), key=lambda s: (int(s[3:6]) // 40, s), reverse=True)
    assert seen == expected


def test_a_2_1_client_cursor_repeats_ties_but_never_loses_one(tmp_path, outdir):
    for n in range(75):
        write_png(outdir / f"img{n:03d}.png", mtime=3_000_000 + n // 10)
    index = open_index(tmp_path, outdir)
    first, more = index.page("result")
    second, _ = index.page("result", first[-1]["mtime"])  # what InvokeAI 2.1 sends: mtime only
    assert more and set(names(first)) | set(names(second)) == {f"img{n:03d}.png" for n in range(75)}


def test_latest_images_are_everything_at_or_after_the_mtime(tmp_path, outdir):
    for n in range(10):
        write_png(outdir / f"{n}.png", mtime=100 + n)
    index = open_index(tmp_path, outdir)
    assert names(index.newer("result", 107)) == ["9.png", "8.png", "7.png"]
    assert index.newer("result", 1000) == []


def test_the_index_follows_files_added_changed_and_removed_by_other_programs(tmp_path, outdir):
    write_png(outdir / "a.png", mtime=10)
    index = open_index(tmp_path, outdir)
    assert index.refresh_if_changed() is False  # nothing moved: one stat per folder, no scan

    shutil.copy(outdir / "a.png", outdir / "copied.png")
    (outdir / "a.png").unlink()
    assert index.refresh_if_changed() is True
    assert names(index.page("result")[0]) == ["copied.png"]

    write_png(outdir / "copied.png", size=(40, 20), mtime=99)
    index.reconcile()
    image = index.page("result")[0][0]
    assert (image["width"], image["height"], image["mtime"]) == (40, 20, 99)


def test_a_restart_reconciles_with_what_changed_while_the_server_was_down(tmp_path, outdir):
    write_png(outdir / "kept.png", mtime=1)
    write_png(outdir / "removed.png", mtime=2)
    open_index(tmp_path, outdir).close()
    (outdir / "removed.png").unlink()
    write_png(outdir / "new.png", mtime=3)
    index = GalleryIndex(outdir, tmp_path / "db" / "gallery.sqlite3", tmp_path / "thumbs")
    stats = index.reconcile()
    assert (stats.added, stats.removed) == (1, 1)
    assert names(index.page("result")[0]) == ["new.png", "kept.png"]


def test_metadata_from_invokeai_and_automatic1111_files(tmp_path, outdir):
    ours = {"model": "stable diffusion", "image": {"prompt": [{"prompt": "sushi", "weight": 1.0}], "seed": 7}}
    write_png(outdir / "ours.png", text={"sd-metadata": json.dumps(ours)}, mtime=3)
    write_png(outdir / "a1111.png", mtime=2, text={
        "parameters": "a castle\nNegative prompt: fog\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 16x8"})
    write_png(outdir / "plain.png", mtime=1)
    (outdir / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    os.utime(outdir / "broken.png", (0.5, 0.5))
    images = {i["url"]: i for i in open_index(tmp_path, outdir).page("result")[0]}
    assert images["outputs/ours.png"]["metadata"] == ours
    a1111 = images["outputs/a1111.png"]["metadata"]["image"]
    assert a1111["seed"] == 42 and a1111["sampler"] == "k_euler_a" and a1111["prompt"][0]["prompt"] == "a castle"
    assert (a1111["negative_prompt"], a1111["prompt_syntax"]) == ("fog", "a1111")
    assert images["outputs/plain.png"]["metadata"] == {}
    assert images["outputs/broken.png"]["metadata"] == {} and images["outputs/broken.png"]["width"] == 0


def test_uploads_are_the_user_category_and_other_folders_are_ignored(tmp_path, outdir):
    write_png(outdir / "result.png")
    write_png(outdir / "init-images" / "upload.png")
    write_png(outdir / "intermediates" / "step.png")
    write_png(outdir / ".hidden.png")
    (outdir / "notes.txt").write_text("x")
    index = open_index(tmp_path, outdir)
    assert names(index.page("result")[0]) == ["result.png"]
    user = index.page("user")[0]
    assert user[0]["url"] == "outputs/init-images/upload.png" and user[0]["category"] == "user"
    assert category_of("intermediates/step.png") is None and category_of("init-images/x.jpg") == ("user", "x.jpg")


def test_symlinks_are_not_indexed(tmp_path, outdir):
    outside = write_png(tmp_path / "elsewhere" / "secret.png")
    outdir.mkdir()
    (outdir / "link.png").symlink_to(outside)
    assert open_index(tmp_path, outdir).page("result")[0] == []


def test_files_are_read_lazily_and_in_the_background(tmp_path, outdir):
    for n in range(5):
        write_png(outdir / f"{n}.png", size=(24, 12), mtime=n)
    index = open_index(tmp_path, outdir)
    assert index.read_pending() == 5 and index.read_pending() == 0
    assert {(i["width"], i["height"]) for i in index.page("result")[0]} == {(24, 12)}


def test_thumbnails_are_small_webp_files_cached_on_disk(tmp_path, outdir):
    write_png(outdir / "big.png", size=(1024, 512), mtime=100)
    index = open_index(tmp_path, outdir)
    thumb = index.thumbnail("big.png")
    with Image.open(thumb) as im:
        assert im.format == "WEBP" and max(im.size) <= 256 and im.size == (256, 128)
    stamp = thumb.stat().st_mtime_ns
    assert index.thumbnail("big.png").stat().st_mtime_ns == stamp  # cached
    write_png(outdir / "big.png", size=(300, 600), mtime=200)
    with Image.open(index.thumbnail("big.png")) as im:
        assert im.size == (128, 256)  # redone when the image changed
    index.remove(outdir / "big.png")
    assert not thumb.exists()


def test_thumbnails_refuse_paths_outside_the_output_folder(tmp_path, outdir):
    outside = write_png(tmp_path / "outside.png")
    outdir.mkdir()
    (outdir / "link.png").symlink_to(outside)
    index = open_index(tmp_path, outdir)
    for bad in ("../outside.png", "link.png", str(outside)):
        with pytest.raises(UnsafePathError):
            index.thumbnail(bad)
    with pytest.raises(FileNotFoundError):
        index.thumbnail("missing.png")


def test_the_servers_own_saves_do_not_trigger_a_rescan(tmp_path, outdir):
    write_png(outdir / "old.png", mtime=1)
    index = open_index(tmp_path, outdir)
    with index.writing("result"):
        write_png(outdir / "ours.png")
    index.add(outdir / "ours.png")
    assert index.refresh_if_changed() is False  # at 100,000 images a rescan per saved image would cost seconds
    assert names(index.page("result")[0])[0] == "ours.png"

    write_png(outdir / "theirs.png")  # another program's file still shows up
    assert index.refresh_if_changed() is True
    assert "theirs.png" in names(index.page("result")[0])


def test_an_outside_change_before_our_save_is_not_swallowed(tmp_path, outdir):
    write_png(outdir / "old.png", mtime=1)
    index = open_index(tmp_path, outdir)
    time.sleep(0.01)  # a new mtime tick for the folder
    write_png(outdir / "theirs.png")
    with index.writing("result"):
        write_png(outdir / "ours.png")
    index.add(outdir / "ours.png")
    assert index.refresh_if_changed() is True
    assert {"theirs.png", "ours.png"} <= set(names(index.page("result")[0]))
