"""``models.yaml`` in the root dir: which models exist, loading them, a small LRU cache, model hashes.

Each entry names a format; a loader per format turns it into a diffusers pipeline, so new
formats (single-file checkpoints, SDXL, ...) are one more loader, not a rewrite.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .demo_model import DEMO_DESCRIPTION, DEMO_MODEL_NAME, ensure_demo_model
from .errors import ModelLoadError
from .globals import models_yaml

log = logging.getLogger(__name__)

FORMATS = ("diffusers", "demo")


@dataclass
class LoadedModel:
    name: str
    pipeline: Any  # a diffusers StableDiffusionPipeline
    hash: str
    config: dict[str, Any]

    @property
    def is_demo(self) -> bool:
        return self.config.get("format") == "demo"


class ModelManager:
    """Reads models.yaml and hands out loaded pipelines, keeping the last few in RAM."""

    def __init__(self, root: Path, max_cached: int = 2) -> None:
        self.root = Path(root)
        self.max_cached = max(1, max_cached)
        self._cache: OrderedDict[str, LoadedModel] = OrderedDict()
        self._active: str | None = None
        self._lock = threading.RLock()
        self.loaders: dict[str, Callable[[str, dict[str, Any], dict[str, Any]], Any]] = {
            "diffusers": self._load_diffusers,
            "demo": self._load_demo,
        }

    # -- the list ---------------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return models_yaml(self.root)

    def config(self) -> dict[str, dict[str, Any]]:
        """The models.yaml entries; with no file (or an empty one) the demo model is the only entry."""
        path = self.config_path
        entries: dict[str, dict[str, Any]] = {}
        if path.exists():
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as e:
                raise ModelLoadError(f"{path} is not valid YAML: {e}") from e
            if not isinstance(data, dict):
                raise ModelLoadError(f"{path} must map model names to settings")
            entries = {str(k): dict(v or {}) for k, v in data.items()}
        if not entries:
            entries = {DEMO_MODEL_NAME: demo_entry()}
        return entries

    def default_model_name(self) -> str:
        entries = self.config()
        for name, entry in entries.items():
            if entry.get("default"):
                return name
        non_demo = [n for n, e in entries.items() if e.get("format") != "demo"]
        return non_demo[0] if non_demo else next(iter(entries))

    def list_models(self) -> dict[str, dict[str, Any]]:
        out = {}
        for name, entry in self.config().items():
            if name == self._active:
                status = "active"
            elif name in self._cache:
                status = "cached"
            else:
                status = "not loaded"
            out[name] = {
                "status": status,
                "description": entry.get("description", ""),
                "format": entry.get("format", "diffusers"),
                "demo": entry.get("format") == "demo",
            }
        return out

    def add_model(self, name: str, entry: dict[str, Any], make_default: bool = False) -> None:
        with self._lock:
            data = self.config() if self.config_path.exists() else {}
            if make_default:
                for e in data.values():
                    e.pop("default", None)
                entry = {**entry, "default": True}
            data[name] = entry
            self.config_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.config_path.with_suffix(".yaml.tmp")
            tmp.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
            os.replace(tmp, self.config_path)

    # -- loading ------------------------------------------------------------------------------

    @property
    def active(self) -> str | None:
        return self._active

    def get(self, name: str, load_options: dict[str, Any]) -> LoadedModel:
        """The loaded model ``name`` (from the cache when there), now the active one."""
        with self._lock:
            entries = self.config()
            if name not in entries:
                known = ", ".join(entries) or "none"
                raise ModelLoadError(f"Unknown model {name!r}; models.yaml lists: {known}")
            if name in self._cache:
                self._cache.move_to_end(name)
                self._active = name
                return self._cache[name]
            entry = entries[name]
            fmt = entry.get("format", "diffusers")
            loader = self.loaders.get(fmt)
            if loader is None:
                raise ModelLoadError(f"Model {name!r} has unknown format {fmt!r}; known: {', '.join(self.loaders)}")
            try:
                pipeline = loader(name, entry, load_options)
            except ModelLoadError:
                raise
            except Exception as e:  # a broken folder or file: say which model and why
                raise ModelLoadError(f"Could not load model {name!r}: {e}") from e
            loaded = LoadedModel(name, pipeline, self.model_hash(name, entry), {**entry, "format": fmt})
            self._cache[name] = loaded
            while len(self._cache) > self.max_cached:
                evicted, _ = self._cache.popitem(last=False)
                log.info("Model %s left the cache", evicted)
            self._active = name
            return loaded

    def evict(self, name: str) -> None:
        with self._lock:
            self._cache.pop(name, None)
            if self._active == name:
                self._active = None

    def _model_path(self, entry: dict[str, Any]) -> Path | None:
        if not entry.get("path"):
            return None
        p = Path(os.path.expanduser(str(entry["path"])))
        return p if p.is_absolute() else self.root / p

    def _load_demo(self, name: str, entry: dict[str, Any], options: dict[str, Any]) -> Any:
        path = self._model_path(entry) or self.root / "models" / DEMO_MODEL_NAME
        ensure_demo_model(self.root, int(entry.get("seed", 0)), path)
        return self._load_diffusers(name, {**entry, "path": str(path)}, options)

    def _load_diffusers(self, name: str, entry: dict[str, Any], options: dict[str, Any]) -> Any:
        from diffusers import AutoencoderKL, StableDiffusionPipeline

        kwargs: dict[str, Any] = {
            "torch_dtype": options.get("torch_dtype"),
            "safety_checker": None,
            "requires_safety_checker": False,
        }
        path = self._model_path(entry)
        if path is not None:
            if not path.is_dir():
                raise ModelLoadError(f"Model {name!r}: folder {path} does not exist")
            source: str = str(path)
            kwargs["local_files_only"] = True
        elif entry.get("repo_id"):
            source = str(entry["repo_id"])
            kwargs["local_files_only"] = os.environ.get("HF_HUB_OFFLINE") == "1"
        else:
            raise ModelLoadError(f"Model {name!r} needs a 'path' or a 'repo_id' in models.yaml")
        if entry.get("vae"):
            vae_src = Path(os.path.expanduser(str(entry["vae"])))
            vae_src = vae_src if vae_src.is_absolute() else self.root / vae_src
            kwargs["vae"] = AutoencoderKL.from_pretrained(str(vae_src), torch_dtype=options.get("torch_dtype"))
        pipe = StableDiffusionPipeline.from_pretrained(source, **kwargs)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    # -- hashes -------------------------------------------------------------------------------

    def model_hash(self, name: str, entry: dict[str, Any]) -> str:
        """sha256 over the model's weight files, cached by (path, size, mtime) in models/.hashes.json."""
        path = self._model_path(entry)
        if path is None or not path.exists():
            return hashlib.sha256(str(entry.get("repo_id", name)).encode()).hexdigest()
        files = sorted(p for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file()
                       and p.suffix in (".safetensors", ".bin", ".ckpt", ".pt", ".pth"))
        cache_file = self.root / "models" / ".hashes.json"
        try:
            cache = json.loads(cache_file.read_text())
        except (OSError, ValueError):
            cache = {}
        key = json.dumps([[str(f), f.stat().st_size, f.stat().st_mtime_ns] for f in files])
        if cache.get(str(path), {}).get("key") == key:
            return str(cache[str(path)]["sha256"])
        digest = hashlib.sha256()
        for f in files:
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
        value = digest.hexdigest()
        cache[str(path)] = {"key": key, "sha256": value}
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            cache_file.write_text(json.dumps(cache))
        except OSError:
            pass
        return value


def demo_entry() -> dict[str, Any]:
    return {
        "description": DEMO_DESCRIPTION,
        "format": "demo",
        "path": f"models/{DEMO_MODEL_NAME}",
        "width": 512,
        "height": 512,
    }
