"""The output tree's facts in one place: folder names, the ``NNNNNN.SEED.png`` naming, the one
atomic write, and the check that a recorded path stays inside the tree."""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import quote, unquote, urlsplit

from .errors import InvokeError, MissingFileError

# Folders of the output tree (``--outdir``); results sit at its top level.
INIT_FOLDER = "init-images"  # the user's uploads (the gallery's "user" category)
MASK_FOLDER = "mask-images"  # painted masks, named by the results that used them
WORK_FOLDER = "canvas-images"  # pictures the UI composes for one generation (outpainting, canvas regions)
CONTROL_FOLDER = "control-images"  # control units' input pictures brought in from outside the tree
INTERMEDIATES_FOLDER = "intermediates"
NUMBERS_FOLDER = ".numbers"  # one empty file per result number taken, so two processes never share one
OUTPUTS_PREFIX = "outputs/"  # URLs of the output tree, as InvokeAI 2.1 records them in recipes

TEMP_SUFFIX = ".tmp"
_RESULT_NAME = re.compile(r"^(\d{6})\.(\d+)(?:\.postprocessed)?\.png$")


class UnsafePathError(InvokeError, ValueError):
    """A URL or path that points outside the output folder, or at nothing."""


# ---------------------------------------------------------------------------------------------
# Naming


def result_name(number: int, seed: int, postprocessed: bool = False) -> str:
    return f"{number:06d}.{int(seed)}{'.postprocessed' if postprocessed else ''}.png"


def parse_result_name(name: str) -> tuple[int, int] | None:
    """``000012.42.png`` → (12, 42); None for any other name."""
    m = _RESULT_NAME.match(name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def is_temp_name(name: str) -> bool:
    """A temp file ``atomic_write`` left behind (a kill between write and rename)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


# ---------------------------------------------------------------------------------------------
# Writing


def _read_umask() -> int:
    # os.umask can only be read by setting it; done once, at import, before any thread writes files.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# The mode a plain open() would give a new file (0644 under the usual umask 022). mkstemp makes its
# files 0600, which would leave results unreadable to the user's other accounts and services.
NEW_FILE_MODE = 0o666 & ~_read_umask()


def atomic_write(data: bytes, final: Path, exclusive: bool = False, mtime_ns: int | None = None) -> Path:
    """Writes ``data`` to a hidden temp file in the same folder, fsyncs it, then moves it into place,
    so a reader (or a crash) never sees half a file. With ``exclusive`` an existing file is never
    replaced: FileExistsError instead. ``mtime_ns`` stamps the file (a cache carrying its source's time).
    The file gets the permissions the user's umask gives any new file."""
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=TEMP_SUFFIX, dir=final.parent)
    tmp = Path(tmp_name)
    try:
        if hasattr(os, "fchmod"):  # not on Windows, where the mode bits do not apply
            os.fchmod(fd, NEW_FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mtime_ns is not None:
            os.utime(tmp, ns=(mtime_ns, mtime_ns))
        if exclusive:
            os.link(tmp, final)
        else:
            os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


class ResultWriter:
    """Saves results as ``NNNNNN.SEED.png`` in one folder.

    The folder is listed once, to find the highest number in use; after that numbers come from a
    counter, so saving stays cheap however many images the folder holds. A number is taken by
    creating ``.numbers/NNNNNN`` exclusively: the seed is part of a result's name, so two processes
    (the CLI and the web server on one folder) could otherwise both save ``000021.*.png``.
    """

    def __init__(self, outdir: str | os.PathLike[str]) -> None:
        self.outdir = Path(outdir)
        self._lock = threading.Lock()
        self._next: int | None = None

    @property
    def _numbers(self) -> Path:
        return self.outdir / NUMBERS_FOLDER

    def _scan(self) -> int:
        highest = 0
        if self.outdir.is_dir():
            with os.scandir(self.outdir) as it:
                for entry in it:
                    parsed = parse_result_name(entry.name)
                    if parsed:
                        highest = max(highest, parsed[0])
        return highest + 1

    def _take(self, number: int) -> bool:
        """Claims ``number`` for this process; False when another process (or an earlier run) has it."""
        try:
            os.close(os.open(self._numbers / f"{number:06d}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, NEW_FILE_MODE))
        except FileExistsError:
            return False
        return True

    def save(self, png: bytes | Callable[[str], bytes], seed: int, postprocessed: bool = False) -> Path:
        """Writes encoded PNG bytes under the next free number; ``png`` may be a function of the file
        name that makes them (a recipe that names files called after the result)."""
        with self._lock:
            if self._next is None:
                self._next = self._scan()
            self._numbers.mkdir(parents=True, exist_ok=True)
            while True:
                number = self._next
                self._next += 1
                if not self._take(number):
                    continue  # another program took that number meanwhile; take the next
                name = result_name(number, seed, postprocessed)
                try:
                    return atomic_write(png(name) if callable(png) else png, self.outdir / name, exclusive=True)
                except FileExistsError:
                    continue  # a result saved by a program that does not claim its numbers


# ---------------------------------------------------------------------------------------------
# Paths inside the tree


# Longer names cannot exist on the disk (ENAMETOOLONG): they are refused before the file system is asked.
NAME_MAX = 255  # bytes per path component on Linux, macOS and Windows file systems alike
PATH_MAX = 4096


def _too_long(root: Path, relative: PurePosixPath) -> bool:
    try:
        name_max = os.pathconf(root, "PC_NAME_MAX") if hasattr(os, "pathconf") else NAME_MAX
    except (OSError, ValueError):
        name_max = NAME_MAX
    return (any(len(os.fsencode(part)) > name_max for part in relative.parts)
            or len(os.fsencode(str(root / relative))) >= PATH_MAX)


def _checked(relative: str) -> PurePosixPath:
    if not relative or "\x00" in relative or "\\" in relative:
        raise UnsafePathError("That path is not a file name inside the output folder.")
    pure = PurePosixPath(relative)
    if pure.is_absolute() or PureWindowsPath(relative).drive or ".." in pure.parts:
        raise UnsafePathError("Paths with '..' or absolute paths are not allowed.")
    return pure


def relative_inside(base: Path, relative: str) -> Path:
    """``base/relative`` resolved, refusing ``..``, absolute paths and symlinks that lead out of ``base``."""
    pure = _checked(relative)
    root = base.resolve()
    if _too_long(root, pure):
        raise UnsafePathError("That file name is too long to exist in the output folder.")
    # resolve() follows symlinks, so a link inside the folder that points elsewhere is caught here.
    try:
        candidate = (root / pure).resolve()
    except OSError as exc:  # a name too long for the file system, a link loop
        raise UnsafePathError(f"That path cannot be used: {exc.strerror or exc}.") from None
    if candidate != root and not candidate.is_relative_to(root):
        raise UnsafePathError("That path leads outside the output folder.")
    return candidate


def entry_inside(base: Path, relative: str) -> Path:
    """The directory entry ``base/relative`` itself: a symlink is returned as the link, not followed.

    For removing things: deleting a link inside the output folder must remove the link, never the
    file it points to (which may be anywhere). The folders on the way are resolved and must stay
    inside ``base``; only the last component is left as it is. Raises MissingFileError when there
    is no such entry (a dangling link is an entry).
    """
    pure = _checked(relative)
    if pure.name in ("", "."):
        raise UnsafePathError("That path is not a file name inside the output folder.")
    root = base.resolve()
    if _too_long(root, pure):
        raise UnsafePathError("That file name is too long to exist in the output folder.")
    folder = (root / pure.parent).resolve()
    if folder != root and not folder.is_relative_to(root):
        raise UnsafePathError("That path leads outside the output folder.")
    entry = folder / pure.name
    if not entry.is_symlink() and not entry.exists():
        raise MissingFileError(f"{relative} does not exist (it may have been deleted).")
    return entry


def output_url_to_relative(url: str) -> str:
    """``outputs/NAME``, ``/outputs/NAME`` or ``http://host/outputs/NAME`` → ``NAME`` (still unchecked)."""
    if not isinstance(url, str) or not url:
        raise UnsafePathError("The image URL is empty.")
    path = unquote(urlsplit(url).path).lstrip("/")
    if not path.startswith(OUTPUTS_PREFIX):
        raise UnsafePathError(f"'{url[:200]}' is not an image URL of this server (it must start with outputs/).")
    return path[len(OUTPUTS_PREFIX) :]


def relative_to_output_url(relative: str) -> str:
    """The URL clients use (and recipes record) for a file at ``relative`` inside the output folder."""
    return OUTPUTS_PREFIX + quote(relative)


def is_output_url(text: str) -> bool:
    return isinstance(text, str) and unquote(urlsplit(text).path).lstrip("/").startswith(OUTPUTS_PREFIX)


def resolve_output_url(outdir: Path, url: str) -> Path:
    """The file behind an ``outputs/...`` URL: UnsafePathError outside the tree, FileNotFoundError
    when there is no such file."""
    path = relative_inside(outdir, output_url_to_relative(url))
    if not path.is_file():
        raise MissingFileError(f"The image {url} does not exist (it may have been deleted).")
    return path
