"""What annotator weights are by content: the sha256 of a weights file (or of a weights folder's files),
computed once per (path, size, modification time), so a file replaced under the same name is told apart."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from .table import ANNOTATOR_FOLDER, PREPROCESSORS, WEIGHT_FOLDERS, annotator_files, weights_present

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


def annotator_facts(root: Path) -> dict[str, Any]:
    """The annotator folder, the weights in it and the content identity of those a preprocessor reads, as
    plain data (a worker's facts, which the studio checks with and keys map previews by). No torch: the
    studio asks for facts while it starts, before the model loads."""
    folder, files = Path(root) / ANNOTATOR_FOLDER, annotator_files(root)
    known = {name for p in PREPROCESSORS.values() for name in p.weights}
    return {"folder": str(folder), "files": sorted(files), "digests": annotator_digests(folder, files & known)}
