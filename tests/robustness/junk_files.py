"""Weight files that are not what their names say: random bytes, cut-off and hand-made broken pickles."""

from __future__ import annotations

import io
import pickle
import random
import zipfile
from pathlib import Path

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch's pre-zip format


def legacy_with_missing_storage(path: Path) -> Path:
    """A legacy-format torch file listing a storage it does not hold (torch fails with KeyError/AssertionError)."""
    with open(path, "wb") as f:
        for obj in (LEGACY_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True,
                                         "type_sizes": {"short": 2, "int": 4, "long": 4}}, {}, ["174812789"]):
            pickle.dump(obj, f, protocol=2)
    return path


def write_junk(folder: Path, seed: int = 21) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    files = [legacy_with_missing_storage(folder / "a-legacy-missing-storage.ckpt")]
    for i, size in enumerate([0, 1, 9, 700, 40_000]):
        p = folder / f"b-random-{i}.ckpt"
        p.write_bytes(rng.randbytes(size))
        files.append(p)
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("archive/data.pkl", rng.randbytes(300))
    (folder / "c-zip-of-junk.ckpt").write_bytes(zipped.getvalue())
    (folder / "d-truncated.safetensors").write_bytes(b"\xff\x00\x00\x00\x00\x00\x00\x00{\"a\":")
    (folder / "e-random.pt").write_bytes(rng.randbytes(5000))
    (folder / "f-random.bin").write_bytes(rng.randbytes(123))
    files += [folder / n for n in ("c-zip-of-junk.ckpt", "d-truncated.safetensors", "e-random.pt", "f-random.bin")]
    return files
