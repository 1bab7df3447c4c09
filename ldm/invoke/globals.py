"""Where the runtime root lives (models.yaml, models, outputs) and the paths derived from it."""

from __future__ import annotations

import os
from pathlib import Path


def default_root() -> Path:
    """The root dir: ``$INVOKEAI_ROOT`` when set, else the platform's per-user data folder."""
    env = os.environ.get("INVOKEAI_ROOT")
    if env:
        return Path(env).expanduser().resolve()
    from platformdirs import user_data_dir

    return Path(user_data_dir("invokeai", appauthor=False)).resolve()


def resolve_root(root: str | os.PathLike[str] | None) -> Path:
    """An explicit ``--root`` wins over the environment and the platform default."""
    return Path(root).expanduser().resolve() if root else default_root()


def outputs_dir(root: Path) -> Path:
    """The default ``--outdir``: ``outputs/img-samples`` under the root dir."""
    return root / "outputs" / "img-samples"


def models_dir(root: Path) -> Path:
    return root / "models"


def models_yaml(root: Path) -> Path:
    return root / "models.yaml"


def cache_dir(root: Path) -> Path:
    """Caches the engine may rebuild at any time (compiled code): ``cache`` under the root dir."""
    return root / "cache"
