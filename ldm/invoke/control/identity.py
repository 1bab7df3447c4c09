"""What annotator weights are by content: the sha256 of a weights file (or of a weights folder's files),
computed once per (path, size, modification time), so a file replaced under the same name is told apart."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from .table import WEIGHT_FOLDERS, weights_present

CHUNK = 1 << 20

_digests: dict[str, tuple[int, int, str]] = {}  # path -> (size, mtime_ns, sha256)
_lock = threading.Lock()


def file_digest(path: Path) -> str:
    """The sha256 of the file at ``path``, read again only when its size or modification time changed."""
    stat = path.stat()
    with _lock:
        known = _digests.get(str(path))
    if known and known[:2] == (stat.st_size, stat.st_mtime_ns):
        return known[2]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    with _lock:
        _digests[str(path)] = (stat.st_size, stat.st_mtime_ns, digest.hexdigest())
    return digest.hexdigest()


def weights_digest(path: Path) -> str:
    """The content identity of the weights at ``path``: a file's sha256, or for one of the WEIGHT_FOLDERS
    the sha256 of the names and digests of the files it is read from."""
    spec = WEIGHT_FOLDERS.get(path.name)
    if spec is None or not path.is_dir():
        return file_digest(path)
    parts = [f"{name}:{file_digest(path / name)}" for name in spec.reads if (path / name).is_file()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def annotator_digests(folder: Path, names: set[str] | frozenset[str]) -> dict[str, str]:
    """The content identity of each of ``names`` that the annotator ``folder`` has (absent ones left out)."""
    return {name: weights_digest(folder / name) for name in sorted(names) if weights_present(folder, name)}
