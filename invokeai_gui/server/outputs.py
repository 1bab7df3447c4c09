"""The output tree of one ``--outdir``: where results, uploads, masks, canvas pictures and
intermediates are written, and ``outputs/...`` URL ↔ path (never outside the tree)."""

from __future__ import annotations

from pathlib import Path

from ldm.invoke.files import (
    INIT_FOLDER,
    INTERMEDIATES_FOLDER,
    MASK_FOLDER,
    WORK_FOLDER,
    ResultWriter,
    atomic_write,
    relative_to_output_url,
    resolve_output_url,
)

from .uploads import CheckedImage, store_image

__all__ = ["INIT_FOLDER", "INTERMEDIATES_FOLDER", "MASK_FOLDER", "OutputTree", "WORK_FOLDER"]


class OutputTree:
    def __init__(self, outdir: Path) -> None:
        self.outdir = Path(outdir)
        self._results = ResultWriter(self.outdir)

    def resolve(self, url: str) -> Path:
        """The file behind an ``outputs/...`` URL; UnsafePathError outside the tree, FileNotFoundError
        when there is no such file."""
        return resolve_output_url(self.outdir, url)

    def read(self, url: str) -> bytes:
        return self.resolve(url).read_bytes()

    def url_of(self, path: Path) -> str:
        return relative_to_output_url(Path(path).resolve().relative_to(self.outdir.resolve()).as_posix())

    def save_result(self, png: bytes, seed: int, postprocessed: bool = False, control_maps: tuple[bytes, ...] = ()
                    ) -> Path:
        """A result under its next number, with the maps its control units used beside it (control-images/)."""
        from ldm.invoke.control.record import save_result

        return save_result(self._results, png, seed, control_maps, postprocessed)

    def save_intermediate(self, name: str, png: bytes) -> Path:
        return atomic_write(png, self.outdir / INTERMEDIATES_FOLDER / name)

    def store(self, image: CheckedImage, name: object, folder: str = INIT_FOLDER, fallback: str = "upload") -> Path:
        """A checked input image under a unique, sanitised name in one of the tree's folders."""
        return store_image(image, name, self.outdir / folder, fallback)
