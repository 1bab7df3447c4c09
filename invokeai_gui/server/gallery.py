"""The gallery: an SQLite index of the images under the output folder, kept in step with the disk, and their thumbnails."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import quote

from PIL import Image, ImageOps

from ldm.invoke.files import (
    INIT_FOLDER,
    UnsafePathError,
    atomic_write,
    is_temp_name,
    relative_inside,
    relative_to_output_url,
)
from ldm.invoke.metadata import metadata_from_info

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp"})
# Each gallery category is one folder of the output tree (uploads live in init-images/).
CATEGORY_FOLDERS = {"result": "", "user": INIT_FOLDER}
THUMBNAIL_SIZE = 256
THUMBNAIL_PREFIX = "thumbnails/"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    category TEXT NOT NULL,
    name     TEXT NOT NULL,
    mtime    REAL NOT NULL,
    mtime_ns INTEGER NOT NULL,
    size     INTEGER NOT NULL,
    width    INTEGER,
    height   INTEGER,
    metadata TEXT,               -- JSON; NULL until the file has been read
    PRIMARY KEY (category, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS images_newest_first ON images (category, mtime DESC, name DESC);
CREATE INDEX IF NOT EXISTS images_unread ON images (category, name) WHERE metadata IS NULL;
"""


def is_image_name(name: str) -> bool:
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def category_of(relative: str) -> tuple[str, str] | None:
    """(category, file name) for a path relative to the output folder, or None if the gallery ignores it."""
    folder, _, name = relative.rpartition("/")
    for category, category_folder in CATEGORY_FOLDERS.items():
        if folder == category_folder and is_image_name(name):
            return category, name
    return None


def folder_digest(outdir: Path) -> str:
    """A short stable name for an output folder, so each folder keeps its own index and thumbnails."""
    return hashlib.sha1(str(outdir.resolve()).encode()).hexdigest()[:12]


@dataclass
class ReconcileStats:
    added: int = 0
    changed: int = 0
    removed: int = 0
    seconds: float = 0.0


def read_image_facts(path: Path) -> tuple[int, int, str]:
    """Width, height and metadata JSON from a file's header; a file Pillow cannot read gets 0×0 and {}."""
    try:
        with Image.open(path) as im:
            width, height = im.size
            metadata = metadata_from_info(im.info)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        log.info("Could not read %s for the gallery: %s", path, exc)
        return 0, 0, "{}"
    return width, height, json.dumps(metadata)


class GalleryIndex:
    """Newest-first pages of one output folder's images, answered from SQLite instead of the disk.

    The disk stays the truth: a rescan (``reconcile``) runs at start-up and whenever a folder's own
    mtime changes, which is what a file being added, removed or renamed by another program does.
    Rescans only stat files; reading a file's size and metadata happens later, in the background
    or when a page that shows it is asked for.
    """

    def __init__(self, outdir: Path, db_path: Path, thumbnails_dir: Path, page_size: int = 50) -> None:
        self.outdir = Path(outdir).resolve()
        self.thumbnails_dir = Path(thumbnails_dir)
        self.page_size = page_size
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._opened_at = time.time()
        self._folder_stamps: dict[str, int | None] = {}
        self._scan_lock = threading.Lock()  # one scan at a time; reads never wait for it
        self._ready = threading.Event()  # set once the index reflects the folder (or held data for it)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        # Reentrant: a build that is already done when its callback is added runs the callback at once,
        # on this thread, which takes the lock again (see thumbnail).
        self._thumb_lock = threading.RLock()
        self._thumb_builds: dict[str, Future[Path]] = {}
        self._thumb_pool: ThreadPoolExecutor | None = None
        self._pixel_budget = ByteBudget(THUMBNAIL_DECODE_BYTES)
        self.thumbnails_built = 0  # how many thumbnails this index has made (not answered from the cache)

    # -- paths and URLs -----------------------------------------------------------------------

    def folder(self, category: str) -> Path:
        return self.outdir / CATEGORY_FOLDERS[category] if CATEGORY_FOLDERS[category] else self.outdir

    def relative(self, category: str, name: str) -> str:
        folder = CATEGORY_FOLDERS[category]
        return f"{folder}/{name}" if folder else name

    def image_info(self, category: str, name: str, mtime: float, width: int, height: int, metadata: Any) -> dict:
        """The protocol's ``ImageInfo`` (plus ``thumbnail``, our optional field)."""
        relative = self.relative(category, name)
        return {
            "url": relative_to_output_url(relative),
            "thumbnail": THUMBNAIL_PREFIX + quote(relative) + ".webp",
            "mtime": mtime,
            "metadata": metadata if isinstance(metadata, dict) else {},
            "width": width,
            "height": height,
            "category": category,
        }

    # -- keeping the index in step with the disk ----------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @staticmethod
    def _folder_stamp(folder: Path) -> int | None:
        try:
            return os.stat(folder).st_mtime_ns
        except OSError:
            return None

    def reconcile(self, category: str | None = None) -> ReconcileStats:
        """Brings the index in line with the folder(s): new files in, changed files re-read, gone files out."""
        with self._scan_lock:
            stats = self._reconcile(category)
        self._ready.set()
        if stats.added or stats.changed or stats.removed:
            log.info(
                "Gallery index of %s: %d new, %d changed, %d removed (%.2fs).",
                self.outdir, stats.added, stats.changed, stats.removed, stats.seconds,
            )
        return stats

    def _remove_stale_temp(self, entry: os.DirEntry) -> None:
        """A temp file of ours older than this index is what a kill left between write and rename
        (one written now is newer, and its writer is about to move it into place)."""
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < self._opened_at:
                os.unlink(entry.path)
                log.info("Removed %s, a temp file left by an interrupted write.", entry.name)
        except OSError:
            pass

    def _reconcile(self, category: str | None) -> ReconcileStats:
        stats = ReconcileStats()
        started = time.perf_counter()
        for cat in [category] if category else list(CATEGORY_FOLDERS):
            folder = self.folder(cat)
            # Stamp first: anything that changes during the scan makes the next check rescan.
            stamp = self._folder_stamp(folder)
            on_disk: dict[str, tuple[int, int, float]] = {}
            if stamp is not None:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        if is_temp_name(entry.name):
                            self._remove_stale_temp(entry)
                            continue
                        if not is_image_name(entry.name):
                            continue
                        try:
                            if not entry.is_file(follow_symlinks=False):
                                continue  # symlinks could point outside the output folder
                            st = entry.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        on_disk[entry.name] = (st.st_mtime_ns, st.st_size, st.st_mtime)
            with self._lock:
                known = {
                    name: (mtime_ns, size)
                    for name, mtime_ns, size in self._db.execute(
                        "SELECT name, mtime_ns, size FROM images WHERE category = ?", (cat,)
                    )
                }
            gone = [name for name in known if name not in on_disk]
            fresh = []
            for name, (mtime_ns, size, mtime) in on_disk.items():
                before = known.get(name)
                if before != (mtime_ns, size):
                    fresh.append((cat, name, mtime, mtime_ns, size))
                    if before is None:
                        stats.added += 1
                    else:
                        stats.changed += 1
            stats.removed += len(gone)
            if fresh or gone:
                with self._transaction() as db:
                    db.executemany("DELETE FROM images WHERE category = ? AND name = ?", [(cat, n) for n in gone])
                    db.executemany(
                        "INSERT OR REPLACE INTO images (category, name, mtime, mtime_ns, size) VALUES (?, ?, ?, ?, ?)",
                        fresh,
                    )
            self._folder_stamps[cat] = stamp
        stats.seconds = time.perf_counter() - started
        return stats

    def refresh_if_changed(self) -> bool:
        """Rescans only the folders whose mtime moved since the last scan (one stat each otherwise)."""
        changed = False
        for cat in CATEGORY_FOLDERS:
            if cat not in self._folder_stamps or self._folder_stamps[cat] != self._folder_stamp(self.folder(cat)):
                self.reconcile(cat)
                changed = True
        return changed

    @contextmanager
    def writing(self, category: str) -> Iterator[None]:
        """Wraps the server's own change to a gallery folder (a save, an upload, a delete).

        The change moves the folder's mtime, which would make the keeper rescan the whole folder
        (seconds at 100,000 images, after every image). If nothing else had changed the folder
        since the last scan, the new mtime is simply adopted; the caller indexes its file itself.
        """
        folder = self.folder(category)
        before = self._folder_stamp(folder)
        try:
            yield
        finally:
            if before is not None and self._folder_stamps.get(category) == before:
                self._folder_stamps[category] = self._folder_stamp(folder)

    def describe(self, path: Path, category: str = "result") -> dict:
        """The ImageInfo of any image in the output tree (intermediates too), without indexing it."""
        path = Path(path).resolve()
        relative = path.relative_to(self.outdir).as_posix()
        st = path.stat()
        width, height, metadata = read_image_facts(path)
        info = self.image_info(category, path.name, st.st_mtime, width, height, json.loads(metadata))
        info["url"] = relative_to_output_url(relative)
        info["thumbnail"] = THUMBNAIL_PREFIX + quote(relative) + ".webp"
        return info

    def add(self, path: Path) -> dict:
        """Indexes a gallery image the server itself has just written, and returns its ImageInfo."""
        path = Path(path).resolve()
        where = category_of(path.relative_to(self.outdir).as_posix())
        if where is None:
            raise ValueError(f"{path} is not in a gallery folder of {self.outdir}.")
        st = path.stat()
        width, height, metadata = read_image_facts(path)
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO images VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (where[0], where[1], st.st_mtime, st.st_mtime_ns, st.st_size, width, height, metadata),
            )
        return self.image_info(where[0], where[1], st.st_mtime, width, height, json.loads(metadata))

    def remove(self, path: Path) -> None:
        """Forgets a file (after the server deleted it) and drops its cached thumbnail. The last part
        of ``path`` is not followed: a deleted symlink is forgotten as the link."""
        path = Path(path)
        relative = (path.parent.resolve() / path.name).relative_to(self.outdir).as_posix()
        where = category_of(relative)
        if where is not None:
            with self._transaction() as db:
                db.execute("DELETE FROM images WHERE category = ? AND name = ?", where)
        self.thumbnail_path(relative).unlink(missing_ok=True)

    # -- reading pages --------------------------------------------------------------------------

    def _fill_in(self, category: str, rows: list[tuple]) -> list[dict]:
        """Rows → ImageInfo, reading (once) the files this page shows that nobody has read yet."""
        unread = [r for r in rows if r[4] is None]
        facts: dict[str, tuple[int, int, str]] = {}
        for row in unread:
            facts[row[0]] = read_image_facts(self.folder(category) / row[0])
        if facts:
            with self._transaction() as db:
                db.executemany(
                    "UPDATE images SET width = ?, height = ?, metadata = ? WHERE category = ? AND name = ?",
                    [(w, h, m, category, name) for name, (w, h, m) in facts.items()],
                )
        infos = []
        for name, mtime, width, height, metadata in rows:
            if name in facts:
                width, height, metadata = facts[name]
            infos.append(self.image_info(category, name, mtime, width, height, json.loads(metadata)))
        return infos

    def page(
        self, category: str, earliest_mtime: float | None = None, earliest_name: str | None = None,
        limit: int | None = None,
    ) -> tuple[list[dict], bool]:
        """The next page older than the cursor, newest first, and whether more images remain.

        With only ``earliest_mtime`` (a 2.1 client), images sharing that mtime are sent again rather
        than skipped; with ``earliest_name`` too, the cursor is exact.
        """
        limit = limit or self.page_size
        self.wait_ready()
        columns = "SELECT name, mtime, width, height, metadata FROM images WHERE category = ?"
        order = " ORDER BY mtime DESC, name DESC LIMIT ?"
        with self._lock:
            if earliest_mtime is None:
                rows = self._db.execute(columns + order, (category, limit + 1)).fetchall()
            elif earliest_name is None:
                rows = self._db.execute(
                    columns + " AND mtime <= ?" + order, (category, earliest_mtime, limit + 1)
                ).fetchall()
            else:
                # A row-value comparison, so SQLite seeks in the index instead of filtering a scan.
                rows = self._db.execute(
                    columns + " AND (mtime, name) < (?, ?)" + order,
                    (category, earliest_mtime, earliest_name, limit + 1),
                ).fetchall()
        return self._fill_in(category, rows[:limit]), len(rows) > limit

    def newer(self, category: str, latest_mtime: float) -> list[dict]:
        """Everything at or after ``latest_mtime``, newest first (clients drop the ones they have)."""
        self.wait_ready()
        with self._lock:
            rows = self._db.execute(
                "SELECT name, mtime, width, height, metadata FROM images WHERE category = ? AND mtime >= ? "
                "ORDER BY mtime DESC, name DESC",
                (category, latest_mtime),
            ).fetchall()
        return self._fill_in(category, rows)

    def count(self, category: str) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM images WHERE category = ?", (category,)).fetchone()[0]

    def read_pending(self, batch: int = 500) -> int:
        """Reads sizes and metadata of up to ``batch`` files not read yet; returns how many it read."""
        done = 0
        for category in CATEGORY_FOLDERS:
            with self._lock:
                names = [
                    r[0]
                    for r in self._db.execute(
                        "SELECT name FROM images WHERE category = ? AND metadata IS NULL LIMIT ?", (category, batch)
                    )
                ]
            if not names:
                continue
            facts = [(*read_image_facts(self.folder(category) / n), category, n) for n in names]
            with self._transaction() as db:
                db.executemany(
                    "UPDATE images SET width = ?, height = ?, metadata = ? WHERE category = ? AND name = ?", facts
                )
            done += len(names)
        return done

    # -- the background keeper ------------------------------------------------------------------

    def start(self, poll_seconds: float = 2.0) -> None:
        """Follows the disk from a daemon thread, starting with a full reconcile.

        The server does not wait for that first scan (at 100,000 images it takes seconds): pages are
        answered from what the index already holds, and only an index that has never seen this
        folder makes page requests wait for the scan.
        """
        if self.count("result") or self.count("user"):
            self._ready.set()
        self._thread = threading.Thread(target=self._keep, args=(poll_seconds,), name="gallery-index", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float | None = 60.0) -> bool:
        return self._ready.wait(timeout)

    def _keep(self, poll_seconds: float) -> None:
        first = True
        while not self._stop.is_set():
            try:
                if first:
                    self.reconcile()
                    self._ready.set()
                    first = False
                else:
                    self.refresh_if_changed()
                while not self._stop.is_set() and self.read_pending():
                    pass
            except Exception:  # the gallery must never take the server down
                log.exception("The gallery index could not follow the output folder.")
                self._ready.set()
            self._wake.wait(poll_seconds)
            self._wake.clear()

    def nudge(self) -> None:
        """Asks the keeper thread to look at the disk now."""
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thumb_pool is not None:
            self._thumb_pool.shutdown(wait=False, cancel_futures=True)
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            self._db.close()

    # -- thumbnails -----------------------------------------------------------------------------

    def thumbnail_path(self, relative: str) -> Path:
        """Where the thumbnail of ``relative`` is cached: the same path plus ``.webp``, or for a name
        too long to take that suffix (a 252-255 byte file name), one derived from its digest."""
        cached = self.thumbnails_dir / f"{relative}.webp"
        if len(os.fsencode(cached.name)) > 255:
            digest = hashlib.sha1(os.fsencode(cached.name)).hexdigest()
            cached = cached.with_name(f"{os.fsencode(cached.name)[:64].decode(errors='ignore')}.{digest}.webp")
        return cached

    def thumbnail(self, relative: str) -> Path:
        """A WebP no larger than 256 px for an image of the output tree, made once and cached on disk.

        A cached, fresh thumbnail is answered at once. Otherwise the build runs on this gallery's
        small pool (``THUMBNAIL_WORKERS`` threads); requests for a file whose thumbnail is being
        built wait for that same build, and decoding waits its turn in a budget of decoded bytes
        (``THUMBNAIL_DECODE_BYTES``), so six first-time requests of an 8192² picture decode it once and six
        different ones decode one at a time.
        """
        source = relative_inside(self.outdir, relative)
        if not is_image_name(source.name) or not source.is_file():
            raise FileNotFoundError(relative)
        cached = self.thumbnail_path(source.relative_to(self.outdir).as_posix())
        source_mtime = source.stat().st_mtime_ns
        if _fresh(cached, source_mtime):
            return cached
        key = str(cached)
        with self._thumb_lock:
            future = self._thumb_builds.get(key)
            if future is None:
                if self._thumb_pool is None:
                    self._thumb_pool = ThreadPoolExecutor(THUMBNAIL_WORKERS, thread_name_prefix="thumbnail")
                future = self._thumb_pool.submit(self._build_thumbnail, source, cached, source_mtime)
                self._thumb_builds[key] = future
                future.add_done_callback(lambda _f, key=key: self._forget_build(key))
        return future.result(timeout=THUMBNAIL_TIMEOUT)

    def _forget_build(self, key: str) -> None:
        with self._thumb_lock:
            self._thumb_builds.pop(key, None)

    def _build_thumbnail(self, source: Path, cached: Path, source_mtime: int) -> Path:
        if _fresh(cached, source_mtime):  # built by an earlier request that finished meanwhile
            return cached
        try:
            with Image.open(source) as im:
                im.draft("RGB", (THUMBNAIL_SIZE, THUMBNAIL_SIZE))  # JPEG decodes at a fraction of full size
                # Formats without a reduced decode (PNG, WebP) are decoded whole: that is what the budget counts.
                with self._pixel_budget.reserve(decoded_bytes(im)):
                    im.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))  # in place: no full-size copy
                    small = im.copy()
            # Turned after shrinking (the copy keeps the EXIF), so no full-size copy is ever made.
            small = ImageOps.exif_transpose(small)
            if small.mode not in ("RGB", "RGBA"):
                small = small.convert("RGBA" if "A" in small.getbands() or "transparency" in small.info else "RGB")
        except Image.DecompressionBombError as exc:
            raise ThumbnailError(f"{source.name} has too many pixels for a thumbnail ({exc})") from None
        except (SyntaxError, ValueError) as exc:
            raise ThumbnailError(f"{source.name} cannot be decoded ({exc})") from None
        encoded = BytesIO()
        small.save(encoded, format="WEBP", quality=80, method=4)
        atomic_write(encoded.getvalue(), cached, mtime_ns=source_mtime)
        self.thumbnails_built += 1
        return cached


class ThumbnailError(OSError):
    """An image of the output tree that cannot be made into a thumbnail (answered as 404)."""


def _fresh(cached: Path, source_mtime: int) -> bool:
    """The thumbnail carries its source's mtime, so any change to the source (even one that sets an
    older time) makes it stale."""
    try:
        return cached.stat().st_mtime_ns == source_mtime
    except FileNotFoundError:
        return False


def decoded_bytes(im: Image.Image) -> int:
    """What decoding ``im`` at its (possibly draft-reduced) size holds in memory: Pillow keeps RGB
    and most multi-band modes at 4 bytes a pixel."""
    per_pixel = {"1": 1, "L": 1, "P": 1, "LA": 4, "PA": 4, "I;16": 2, "I;16B": 2, "I;16L": 2}.get(im.mode, 4)
    return im.size[0] * im.size[1] * per_pixel


class ByteBudget:
    """At most ``limit`` bytes of decoded pictures at once across the process; a picture bigger than
    the whole budget runs alone. Waiters are served in turn, so a big picture is not starved."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self._cond = threading.Condition()
        self._queue: list[object] = []

    @contextmanager
    def reserve(self, amount: int) -> Iterator[None]:
        ticket = object()
        with self._cond:
            self._queue.append(ticket)
            while self._queue[0] is not ticket or (self.in_use and self.in_use + amount > self.limit):
                self._cond.wait()
            self._queue.pop(0)
            self.in_use += amount
            self._cond.notify_all()
        try:
            yield
        finally:
            if amount >= RETURN_MEMORY_ABOVE:
                release_free_memory()
            with self._cond:
                self.in_use -= amount
                self._cond.notify_all()


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        import ctypes

        return ctypes.CDLL(None).malloc_trim  # glibc
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim() if os.name == "posix" else None


def release_free_memory() -> None:
    """Hands freed heap memory back to the OS. glibc keeps what a big decode freed in the thread's
    malloc arena, so without this each pool thread would go on holding a whole picture's worth."""
    if _TRIM is not None:
        _TRIM(0)


# One 8192x8191 RGB picture decodes to 268 MB: the budget holds one of those, or many small ones.
THUMBNAIL_DECODE_BYTES = 300 * 1024 * 1024
RETURN_MEMORY_ABOVE = 32 * 1024 * 1024
THUMBNAIL_WORKERS = 2
THUMBNAIL_TIMEOUT = 300.0


__all__ = [
    "CATEGORY_FOLDERS",
    "GalleryIndex",
    "ReconcileStats",
    "ThumbnailError",
    "UnsafePathError",
    "category_of",
    "folder_digest",
    "is_image_name",
]
