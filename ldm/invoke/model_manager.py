"""``models.yaml`` in the root dir: which models exist, loading them, a small LRU cache, model hashes,
and bringing models in: importing a file or folder, scanning another program's model tree
(AUTOMATIC1111, ComfyUI), removing entries (never the user's files).

Each entry names a format; a loader per format turns it into a diffusers pipeline:
``diffusers`` (a folder or a Hugging Face repo id), ``checkpoint`` (one ``.safetensors``/``.ckpt``
file in the original layout; SD 1.x, SD 2.x or SDXL) and ``demo`` (the built-in random-weight model).
Control models are entries of ``format: controlnet`` or ``format: t2i_adapter`` (a diffusers folder or
one file), kept apart from the pipelines. LoRAs and textual-inversion embeddings are not entries: they are files in ``ROOT/loras`` and
``ROOT/embeddings`` plus the folders a scan found, listed under the reserved ``__folders__`` key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .control.kinds import CONTROL_KINDS, CONTROLNET, T2I_ADAPTER
from .demo_model import DEMO_DESCRIPTION, DEMO_MODEL_NAME, ensure_demo_model
from .errors import ModelLoadError
from .files import atomic_write
from .globals import models_yaml

log = logging.getLogger(__name__)

FORMATS = ("diffusers", "checkpoint", "demo")
# Names older models.yaml files (InvokeAI 2.x, hand-written) use for single-file checkpoints.
CHECKPOINT_ALIASES = ("ckpt", "safetensors")
FOLDERS_KEY = "__folders__"
FOLDER_KINDS = ("loras", "embeddings")
# Control model entries (ControlNets, T2I-Adapters) share models.yaml with the pipelines but are not
# pipelines: they are listed, loaded and cached apart (``control_models``, ``get_control``). An entry's
# format is its kind (``control.kinds``).


@dataclass
class LoadedModel:
    name: str
    pipeline: Any  # a diffusers StableDiffusionPipeline or StableDiffusionXLPipeline
    hash: str
    config: dict[str, Any]

    @property
    def is_demo(self) -> bool:
        return self.config.get("format") == "demo"

    @property
    def family(self) -> str:
        return str(self.config.get("family") or "sd1")


@dataclass
class LoadedControl:
    name: str
    model: Any  # a diffusers ControlNetModel or T2IAdapter
    hash: str
    family: str
    kind: str = CONTROLNET  # controlnet or t2i_adapter


@dataclass
class ScanReport:
    """What ``scan_folder`` found: models added (and already known), LoRA and embedding folders, files
    it left alone with the reason, and how far it got (``checked`` of ``total``; ``canceled`` when it
    was stopped before the end)."""

    added: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    loras: list[str] = field(default_factory=list)
    embeddings: list[str] = field(default_factory=list)
    folders: dict[str, list[str]] = field(default_factory=lambda: {"loras": [], "embeddings": []})
    skipped: list[tuple[str, str]] = field(default_factory=list)
    checked: int = 0
    total: int = 0
    canceled: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "known": self.known, "loras": self.loras, "embeddings": self.embeddings,
                "folders": self.folders, "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
                "checked": self.checked, "total": self.total, "canceled": self.canceled}


def _check_folders(path: Path, value: Any) -> None:
    """``__folders__`` maps loras/embeddings to lists of folders."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise ModelLoadError(f"{path}: the entry {FOLDERS_KEY!r} must map loras/embeddings to lists of folders, "
                             f"not {type(value).__name__} {str(value)[:60]!r}")
    for kind, folders in value.items():
        if folders is not None and not (isinstance(folders, list) and all(isinstance(f, str) for f in folders)):
            raise ModelLoadError(f"{path}: {FOLDERS_KEY}.{kind} must be a list of folder names, "
                                 f"not {str(folders)[:60]!r}")


def _mark_default(data: dict[str, Any], name: str) -> None:
    """models.yaml's entries with ``default: true`` on ``name`` and on no other."""
    for key, entry in data.items():
        if not key.startswith("__") and isinstance(entry, dict):
            entry.pop("default", None)
    data[name] = {**data[name], "default": True}


class ModelManager:
    """Reads models.yaml and hands out loaded pipelines, keeping the last few in RAM."""

    def __init__(self, root: Path, max_cached: int = 2) -> None:
        self.root = Path(root)
        self.max_cached = max(1, max_cached)
        self._cache: OrderedDict[str, LoadedModel] = OrderedDict()
        self._control_cache: OrderedDict[str, LoadedControl] = OrderedDict()
        self._active: str | None = None
        self._lock = threading.RLock()
        self.loaders: dict[str, Callable[[str, dict[str, Any], dict[str, Any]], Any]] = {
            "diffusers": self._load_diffusers,
            "checkpoint": self._load_checkpoint,
            "demo": self._load_demo,
        }
        for alias in CHECKPOINT_ALIASES:
            self.loaders[alias] = self._load_checkpoint

    # -- the file -------------------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return models_yaml(self.root)

    def _read_file(self) -> dict[str, Any]:
        path = self.config_path
        if not path.exists():
            return {}
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except UnicodeDecodeError as e:
            raise ModelLoadError(
                f"{path} is not a text file (byte {e.start} is not UTF-8); fix it or move it aside, and "
                "`invokeai-configure` writes a fresh one") from None
        except OSError as e:
            raise ModelLoadError(f"{path} cannot be read: {e.strerror or e}") from None
        except yaml.YAMLError as e:
            raise ModelLoadError(f"{path} is not valid YAML: {e}") from None
        if not isinstance(data, dict):
            raise ModelLoadError(f"{path} must map model names to settings, not hold a {type(data).__name__}")
        out = {str(k): v for k, v in data.items()}
        for name, entry in out.items():
            if name == FOLDERS_KEY:
                _check_folders(path, entry)
            elif entry is not None and not isinstance(entry, dict):
                raise ModelLoadError(
                    f"{path}: the entry {name!r} must be a mapping of settings (format:, path:, ...), "
                    f"not {type(entry).__name__} {str(entry)[:60]!r}")
        return out

    def _write_file(self, data: dict[str, Any]) -> None:
        atomic_write(yaml.safe_dump(data, sort_keys=False).encode("utf-8"), self.config_path)

    # -- the list ---------------------------------------------------------------------------

    def config(self) -> dict[str, dict[str, Any]]:
        """The models.yaml entries; with no file (or an empty one) the demo model is the only entry."""
        entries = {k: dict(v or {}) for k, v in self._read_file().items() if not k.startswith("__")
                   and (v or {}).get("format") not in CONTROL_KINDS}
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
        default = self.default_model_name()
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
                "format": self._format(entry),
                "demo": entry.get("format") == "demo",
                "family": entry.get("family", "sd1"),
                "width": entry.get("width", 512),
                "height": entry.get("height", 512),
                "default": name == default,
            }
        return out

    def add_model(self, name: str, entry: dict[str, Any], make_default: bool = False) -> None:
        """Adds or replaces the entry ``name`` (other entries and the folder list are kept)."""
        if not name or name.startswith("__"):
            raise ModelLoadError(f"{name!r} cannot be a model name")
        with self._lock:
            data = self._read_file()
            if not any(not k.startswith("__") for k in data):
                data.update(self.config())  # the implicit demo entry becomes explicit
            data[name] = entry
            if make_default:
                _mark_default(data, name)
            self._write_file(data)
            self._cache.pop(name, None)  # a replaced entry must load afresh

    def set_default(self, name: str) -> None:
        """Makes ``name`` the model loaded at start-up; the loaded models stay loaded.

        Refused (ModelLoadError, with the reason) when the entry's files are missing or its format
        probe fails (see ``check_loadable``): a default that cannot load would greet every start
        with a failure."""
        with self._lock:
            data = self._read_file()
            if not any(not k.startswith("__") for k in data):
                data.update(self.config())  # the implicit demo entry becomes explicit
            if name.startswith("__") or name not in data:
                raise ModelLoadError(f"Unknown model {name!r}; models.yaml lists: {', '.join(self.config())}")
            try:
                self.check_loadable(name)
            except ModelLoadError as e:
                raise ModelLoadError(f"{name!r} cannot be the default model: {e}") from None
            _mark_default(data, name)
            self._write_file(data)

    def check_loadable(self, name: str) -> None:
        """Raises ModelLoadError saying why ``name`` cannot load, from its files alone: they exist,
        and the format probe (tensor names and shapes; for a diffusers folder its model_index.json
        and the component folders it lists) agrees with the entry. No pipeline is built."""
        from .model_formats.probe import probe_path

        entries = self.config()
        if name not in entries:
            raise ModelLoadError(f"Unknown model {name!r}; models.yaml lists: {', '.join(entries)}")
        entry = entries[name]
        fmt = self._format(entry)
        if fmt not in self.loaders:
            raise ModelLoadError(f"its format {fmt!r} is unknown (known: {', '.join(FORMATS)})")
        if fmt == "demo":
            return  # built from its seed whenever its folder is missing
        path = self._model_path(entry)
        if entry.get("vae") and not self._resolve(entry["vae"]).exists():
            raise ModelLoadError(f"its VAE {self._resolve(entry['vae'])} does not exist")
        if fmt == "checkpoint":
            if path is None:
                raise ModelLoadError("its entry names no checkpoint file ('path:')")
            if not path.is_file():
                raise ModelLoadError(f"its checkpoint file {path} does not exist")
            try:
                probe = probe_path(path)
            except ModelLoadError:
                raise
            except Exception as e:  # noqa: BLE001 - any probe failure is a reason to refuse
                raise ModelLoadError(_unreadable(path, e)) from None
            if probe.kind != "checkpoint":
                raise ModelLoadError(f"{path.name} is {probe.detail}, not a model")
            return
        if path is None:
            if not entry.get("repo_id"):
                raise ModelLoadError("its entry names neither a 'path' nor a 'repo_id'")
            if os.environ.get("HF_HUB_OFFLINE") == "1" and _cached_hub_file(str(entry["repo_id"]), "model_index.json") is None:
                raise ModelLoadError(f"{entry['repo_id']} is not downloaded (and the hub is offline); "
                                     "run `invokeai-configure`")
            return
        if not path.is_dir():
            raise ModelLoadError(f"its folder {path} does not exist")
        index = path / "model_index.json"
        try:
            components = json.loads(index.read_text(encoding="utf-8"))
        except OSError:
            raise ModelLoadError(f"{path} has no model_index.json, so it is not a diffusers model folder") from None
        except ValueError as e:
            raise ModelLoadError(f"{index} is not valid JSON ({e})") from None
        if not isinstance(components, dict):
            raise ModelLoadError(f"{index} does not describe a pipeline")
        missing = [key for key, value in components.items()
                   if not key.startswith("_") and isinstance(value, list) and len(value) == 2 and value[0]
                   and key not in ("safety_checker", "feature_extractor", "image_encoder")
                   and not (path / key).is_dir()]
        if missing:
            raise ModelLoadError(f"{path} lacks the folder(s) {', '.join(missing)} that its model_index.json lists")
        weightless = [key for key in ("unet", "vae", "text_encoder", "text_encoder_2") if (path / key).is_dir()
                      and not any(f.suffix in (".safetensors", ".bin") for f in (path / key).iterdir())]
        if weightless:
            raise ModelLoadError(f"{path}: the folder(s) {', '.join(weightless)} hold no weight files")

    def delete_model(self, name: str) -> None:
        """Removes the entry from models.yaml and the cache. The model's files stay where they are."""
        with self._lock:
            data = self._read_file()
            if name.startswith("__") or name not in data:
                raise ModelLoadError(f"Unknown model {name!r}; models.yaml lists: {', '.join(self.config())}")
            del data[name]
            self._write_file(data)
            self.evict(name)

    # -- bringing models in ----------------------------------------------------------------------

    def _entry_for(self, path: Path, description: str | None = None, prediction_type: str | None = None,
                   probe: Any = None) -> dict[str, Any]:
        from .model_formats.probe import FAMILY_NAMES, probe_path, sidecar_config

        probe = probe or probe_path(path)
        if probe.kind in CONTROL_KINDS:
            return {"description": description or f"{CONTROL_KINDS[probe.kind]} for {FAMILY_NAMES[probe.family]} "
                                                  f"({path.name})",
                    "format": probe.kind, "path": str(path), "family": probe.family}
        if probe.kind not in ("checkpoint", "diffusers"):
            hint = {"lora": f"put it in {self.root / 'loras'} and use <lora:{path.stem}:0.8> in a prompt",
                    "embedding": f"put it in {self.root / 'embeddings'} and use {path.stem} in a prompt"}
            raise ModelLoadError(f"{path.name} is {probe.detail}, not a model"
                                 + (f"; {hint[probe.kind]}" if probe.kind in hint else ""))
        if prediction_type:
            probe.prediction_type = prediction_type
        size = probe.native_size
        entry: dict[str, Any] = {
            "description": description or f"{FAMILY_NAMES[probe.family]} ({path.name})",
            "format": "checkpoint" if probe.kind == "checkpoint" else "diffusers",
            "path": str(path),
            "family": probe.family,
            "width": size,
            "height": size,
        }
        if probe.family == "sd2" or prediction_type:
            entry["prediction_type"] = probe.prediction_type
        if probe.kind == "checkpoint" and sidecar_config(path):
            entry["config"] = str(sidecar_config(path))
        return entry

    def _name_for(self, path: Path, data: dict[str, Any]) -> str:
        base = path.name if path.is_dir() else path.stem
        name, n = base, 2
        while name in data:
            name, n = f"{base}-{n}", n + 1
        return name

    def _known_paths(self) -> dict[str, str]:
        out = {}
        for name, entry in {**self.config(), **self.control_models()}.items():
            p = self._model_path(entry)
            if p is not None:
                out[str(p.resolve())] = name
        return out

    def import_model(self, path: str | os.PathLike[str], name: str | None = None, description: str | None = None,
                     make_default: bool = False, prediction_type: str | None = None) -> str:
        """Adds a checkpoint file or a diffusers folder to models.yaml (it stays where it is); returns its
        name. The family (SD 1.x, 2.x, XL) is detected from the tensors; an SD 2.x model's v- or
        epsilon-prediction from a ``.yaml`` beside it, else from its weights, else ``prediction_type``."""
        src = Path(os.path.expanduser(str(path))).resolve()
        if not src.exists():
            raise ModelLoadError(f"{src} does not exist")
        entry = self._entry_for(src, description, prediction_type)
        with self._lock:
            known = self._known_paths().get(str(src))
            if known and name is None:
                if make_default:
                    self.add_model(known, self.config()[known], make_default=True)
                return known
            name = name or self._name_for(src, self.config())
            self.add_model(name, entry, make_default=make_default)
        log.info("Imported %s as %s", src, name)
        return name

    def scan_folder(self, folder: str | os.PathLike[str],
                    before_each: Callable[[int, int], None] | None = None) -> ScanReport:
        """Finds models, LoRAs and embeddings under ``folder`` (an AUTOMATIC1111 install or its
        ``models/Stable-diffusion``, a ComfyUI ``models/checkpoints`` tree, any folder), adds the models
        to models.yaml and remembers the folders holding LoRAs and embeddings. Files are not moved.

        ``before_each(done, total)`` is called before each candidate (a weight file or a diffusers
        folder); raising ``GenerationCanceled`` from it stops the scan there, keeping what it found."""
        from .errors import GenerationCanceled

        top = Path(os.path.expanduser(str(folder))).resolve()
        if not top.is_dir():
            raise ModelLoadError(f"{top} is not a folder")
        report = ScanReport()
        candidates = self._scan_candidates(top, report)
        report.total = len(candidates)
        lora_dirs: set[Path] = set()
        embedding_dirs: set[Path] = set()
        for path in candidates:
            if before_each is not None:
                try:
                    before_each(report.checked, report.total)
                except GenerationCanceled:
                    report.canceled = True
                    break
            self._scan_candidate(path, report, lora_dirs, embedding_dirs)
            report.checked += 1
        for kind, found in (("loras", lora_dirs), ("embeddings", embedding_dirs)):
            for d in sorted(self._outermost(found)):
                if self.add_folder(kind, d):
                    report.folders[kind].append(str(d))
        return report

    @staticmethod
    def _scan_candidates(top: Path, report: ScanReport) -> list[Path]:
        """Every weight file and diffusers folder (a pipeline's, a ControlNet's or a T2I-Adapter's) under
        ``top``, in a stable order (names and folder configs only)."""
        from .model_formats import t2i_adapter
        from .model_formats.controlnet import folder_config
        from .model_formats.suffixes import WEIGHT_SUFFIXES

        found: list[Path] = []

        def unreadable_folder(error: OSError) -> None:
            report.skipped.append((str(error.filename or top), f"the folder cannot be read ({error.strerror or error})"))

        for current, dirs, files in os.walk(top, onerror=unreadable_folder):
            here = Path(current)
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            if ((here / "model_index.json").is_file() or folder_config(here) is not None
                    or t2i_adapter.folder_config(here) is not None):
                dirs[:] = []  # a diffusers folder is one model
                found.append(here)
                continue
            found += [here / f for f in sorted(files)
                      if not f.startswith(".") and Path(f).suffix.lower() in WEIGHT_SUFFIXES]
        return found

    def _scan_candidate(self, path: Path, report: ScanReport, lora_dirs: set[Path], embedding_dirs: set[Path]) -> None:
        from .model_formats.probe import probe_path

        if path.is_dir():
            self._scan_one(path, report)
            return
        try:
            probe = probe_path(path)
        except Exception as e:  # noqa: BLE001 - one unreadable file is reported, never ends the scan
            report.skipped.append((str(path), _unreadable(path, e)))
            return
        if probe.kind == "checkpoint" or probe.kind in CONTROL_KINDS:
            self._scan_one(path, report, probe)
        elif probe.kind == "lora":
            lora_dirs.add(path.parent)
            report.loras.append(path.stem)
        elif probe.kind == "embedding":
            embedding_dirs.add(path.parent)
            report.embeddings.append(path.stem)
        else:
            report.skipped.append((str(path), probe.detail))

    @staticmethod
    def _outermost(folders: set[Path]) -> set[Path]:
        """Folders are searched recursively, so a subfolder of another found folder adds nothing."""
        return {f for f in folders if not any(o != f and o in f.parents for o in folders)}

    def _scan_one(self, path: Path, report: ScanReport, probe: Any = None) -> None:
        known = self._known_paths().get(str(path.resolve()))
        if known:
            report.known.append(known)
            return
        try:
            entry = self._entry_for(path, probe=probe)
        except Exception as e:  # noqa: BLE001 - reported with the file's name; the scan goes on
            report.skipped.append((str(path), _unreadable(path, e)))
            return
        name = self._name_for(path, self.config())
        self.add_model(name, entry)
        report.added.append(name)

    # -- LoRA and embedding folders --------------------------------------------------------------

    def folders(self, kind: str) -> list[Path]:
        """Where ``kind`` (loras or embeddings) files are looked for: ROOT/<kind> first, then scanned folders."""
        if kind not in FOLDER_KINDS:
            raise ValueError(kind)
        extra = (self._read_file().get(FOLDERS_KEY) or {}).get(kind) or []
        out = [self.root / kind]
        for f in extra:
            p = Path(os.path.expanduser(str(f)))
            if p not in out:
                out.append(p)
        return out

    def add_folder(self, kind: str, folder: str | os.PathLike[str]) -> bool:
        """Remembers another folder of LoRAs or embeddings; False when it is already searched."""
        path = Path(os.path.expanduser(str(folder))).resolve()
        if path in [p.resolve() for p in self.folders(kind)] or any(
                p.resolve() in path.parents for p in self.folders(kind)):
            return False
        with self._lock:
            data = self._read_file()
            if not any(not k.startswith("__") for k in data):
                data.update(self.config())
            folders = dict(data.get(FOLDERS_KEY) or {})
            folders[kind] = [*(folders.get(kind) or []), str(path)]
            data[FOLDERS_KEY] = folders
            self._write_file(data)
        return True

    def remove_folder(self, kind: str, folder: str | os.PathLike[str]) -> None:
        path = str(Path(os.path.expanduser(str(folder))).resolve())
        with self._lock:
            data = self._read_file()
            folders = dict(data.get(FOLDERS_KEY) or {})
            folders[kind] = [f for f in folders.get(kind) or [] if str(Path(f).resolve()) != path]
            data[FOLDERS_KEY] = folders
            self._write_file(data)

    def _files(self, kind: str) -> dict[str, Path]:
        from .model_formats.suffixes import WEIGHT_SUFFIXES

        found: dict[str, Path] = {}
        for folder in self.folders(kind):
            if not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*")):
                if path.suffix.lower() in WEIGHT_SUFFIXES and path.is_file() and not path.name.startswith("."):
                    found.setdefault(path.stem, path)  # ROOT's own folder wins a name clash
        return found

    def list_loras(self) -> dict[str, Path]:
        """LoRA files by name (the file name without extension, as used in ``<lora:name:weight>``)."""
        return self._files("loras")

    def list_embeddings(self) -> dict[str, Path]:
        """Textual-inversion files by trigger word (the file name without extension)."""
        return self._files("embeddings")

    def prompt_names(self) -> dict[str, list[str]]:
        """What a prompt can name, sorted: LoRAs (``<lora:name:weight>``) and embedding trigger words."""
        return {"loras": sorted(self.list_loras(), key=str.lower),
                "embeddings": sorted(self.list_embeddings(), key=str.lower)}

    # -- loading ------------------------------------------------------------------------------

    @property
    def active(self) -> str | None:
        return self._active

    @staticmethod
    def _format(entry: dict[str, Any]) -> str:
        fmt = entry.get("format") or ("checkpoint" if entry.get("weights") else "diffusers")
        return "checkpoint" if fmt in CHECKPOINT_ALIASES else str(fmt)

    def get(self, name: str, load_options: dict[str, Any]) -> LoadedModel:
        """The loaded model ``name`` (from the cache when there), now the active one."""
        from .model_formats.extras import PromptExtras

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
            fmt = self._format(entry)
            loader = self.loaders.get(fmt)
            if loader is None:
                raise ModelLoadError(f"Model {name!r} has unknown format {fmt!r}; known: {', '.join(FORMATS)}")
            try:
                pipeline = loader(name, entry, load_options)
            except ModelLoadError:
                raise
            except Exception as e:  # a broken folder or file: say which model and why
                raise ModelLoadError(f"Could not load model {name!r}: {e}") from e
            family = entry.get("family") or pipeline_family(pipeline)
            pipeline.invokeai_extras = PromptExtras(pipeline, family, self.list_loras, self.list_embeddings,
                                                     self.folders)
            loaded = LoadedModel(name, pipeline, self.model_hash(name, entry), {**entry, "format": fmt, "family": family})
            self._cache[name] = loaded
            while len(self._cache) > self.max_cached:
                evicted, _ = self._cache.popitem(last=False)
                log.info("Model %s left the cache", evicted)
            self._active = name
            return loaded

    # -- ControlNets ----------------------------------------------------------------------------

    def control_models(self) -> dict[str, dict[str, Any]]:
        """The control model entries of models.yaml by name (path, family, description, and ``kind``:
        controlnet or t2i_adapter)."""
        return {k: {**v, "family": v.get("family") or "sd1", "kind": v["format"]} for k, v in self._read_file().items()
                if not k.startswith("__") and isinstance(v, dict) and v.get("format") in CONTROL_KINDS}

    def control_family(self, name: str) -> str:
        """The family of the ControlNet ``name``, from its entry (or its files); ModelLoadError when unknown."""
        entries = self.control_models()
        if name not in entries:
            known = ", ".join(entries) or "none (scan an A1111 models/ControlNet or ComfyUI models/controlnet folder)"
            raise ModelLoadError(f"Unknown control model {name!r}; models.yaml lists: {known}")
        return str(entries[name]["family"])

    def get_control(self, name: str, dtype: Any = None) -> LoadedControl:
        """The loaded control model ``name`` (kept, like pipelines, in a small LRU cache)."""
        from .model_formats.controlnet import load_controlnet
        from .model_formats.t2i_adapter import load_t2i_adapter

        with self._lock:
            family = self.control_family(name)
            if name in self._control_cache:
                self._control_cache.move_to_end(name)
                return self._control_cache[name]
            entry = self.control_models()[name]
            path = self._model_path(entry)
            if path is None or not path.exists():
                raise ModelLoadError(f"Control model {name!r}: {path or 'its path'} does not exist")
            try:
                load = load_t2i_adapter if entry["kind"] == T2I_ADAPTER else load_controlnet
                model = load(path, dtype)
            except ModelLoadError as e:
                raise ModelLoadError(f"Could not load control model {name!r}: {e}") from None
            except Exception as e:  # a broken folder or file: say which model and why
                raise ModelLoadError(f"Could not load control model {name!r}: {e}") from e
            loaded = LoadedControl(name, model, self.model_hash(name, entry), family, entry["kind"])
            self._control_cache[name] = loaded
            while len(self._control_cache) > self.max_cached * 2:
                self._control_cache.popitem(last=False)
            return loaded

    def evict(self, name: str) -> None:
        with self._lock:
            self._cache.pop(name, None)
            self._control_cache.pop(name, None)
            if self._active == name:
                self._active = None

    def _resolve(self, value: Any) -> Path:
        p = Path(os.path.expanduser(str(value)))
        return p if p.is_absolute() else self.root / p

    def _model_path(self, entry: dict[str, Any]) -> Path | None:
        value = entry.get("path") or entry.get("weights")
        return self._resolve(value) if value else None

    def _load_demo(self, name: str, entry: dict[str, Any], options: dict[str, Any]) -> Any:
        path = self._model_path(entry) or self.root / "models" / DEMO_MODEL_NAME
        ensure_demo_model(self.root, int(entry.get("seed", 0)), path)
        return self._load_diffusers(name, {**entry, "path": str(path)}, options)

    def _load_checkpoint(self, name: str, entry: dict[str, Any], options: dict[str, Any]) -> Any:
        from .model_formats.checkpoint import load_checkpoint_pipeline

        path = self._model_path(entry)
        if path is None:
            raise ModelLoadError(f"Model {name!r} needs a 'path' to its checkpoint file in models.yaml")
        if not path.is_file():
            raise ModelLoadError(f"Model {name!r}: checkpoint file {path} does not exist")
        config = self._resolve(entry["config"]) if entry.get("config") else None
        if config is not None and not config.is_file():
            log.info("Model %s: its config %s is not there; using the built-in one", name, config)
            config = None
        pipe = load_checkpoint_pipeline(path, options.get("torch_dtype"), entry.get("prediction_type"), config)
        if entry.get("vae"):
            pipe.vae = self._load_vae(entry, str(entry.get("family") or pipeline_family(pipe)), options)
        return pipe

    def _load_vae(self, entry: dict[str, Any], family: str, options: dict[str, Any]) -> Any:
        """A replacement VAE: a diffusers folder, or one file (e.g. vae-ft-mse-840000-ema-pruned.safetensors)."""
        import torch
        from diffusers import AutoencoderKL

        src = self._resolve(entry["vae"])
        dtype = options.get("torch_dtype")
        if src.is_dir():
            vae = AutoencoderKL.from_pretrained(str(src), torch_dtype=dtype, local_files_only=True)
        elif src.is_file():
            from .model_formats.checkpoint import build_vae, vae_config
            from .model_formats.state_dict import load_tensors, shapes_of

            tensors = load_tensors(src)
            if not any(k.startswith("first_stage_model.") for k in tensors):
                tensors = {"first_stage_model." + k: v for k, v in tensors.items()}
            vae = build_vae(tensors, vae_config(family, shapes_of(tensors)))
            if dtype is not None:
                vae.to(dtype)
        else:
            raise ModelLoadError(f"The VAE {src} does not exist")
        if getattr(vae.config, "force_upcast", False) and dtype == torch.float16 and family == "sdxl":
            vae.to(torch.float32)
        return vae

    def _load_diffusers(self, name: str, entry: dict[str, Any], options: dict[str, Any]) -> Any:
        import torch
        from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

        kwargs: dict[str, Any] = {"torch_dtype": options.get("torch_dtype")}
        if entry.get("variant"):
            kwargs["variant"] = str(entry["variant"])
        path = self._model_path(entry)
        if path is not None:
            if not path.is_dir():
                raise ModelLoadError(f"Model {name!r}: folder {path} does not exist")
            source: str = str(path)
            index = path / "model_index.json"
        elif entry.get("repo_id"):
            source = str(entry["repo_id"])
            index = _cached_hub_file(source, "model_index.json")
        else:
            raise ModelLoadError(f"Model {name!r} needs a 'path' or a 'repo_id' in models.yaml")
        cls_name = ""
        if index is not None and index.is_file():
            cls_name = str(json.loads(index.read_text(encoding="utf-8")).get("_class_name", ""))
        xl = "XL" in cls_name or entry.get("family") == "sdxl"
        cls = StableDiffusionXLPipeline if xl else StableDiffusionPipeline
        if not xl:
            kwargs.update(safety_checker=None, requires_safety_checker=False)
        if entry.get("vae"):
            kwargs["vae"] = self._load_vae(entry, "sdxl" if xl else "sd1", options)
        try:
            # What is in the local folder or cache, never a network call for a model already there.
            pipe = cls.from_pretrained(source, local_files_only=True, **kwargs)
        except (OSError, ValueError) as e:
            if path is not None or os.environ.get("HF_HUB_OFFLINE") == "1":
                hint = "" if path is not None else " Run `invokeai-configure` to download it."
                raise ModelLoadError(f"Could not load model {name!r} from {source}: {e}.{hint}") from e
            pipe = cls.from_pretrained(source, **kwargs)  # a repo id named by hand, first use: download
        if xl and getattr(pipe.vae.config, "force_upcast", False) and pipe.vae.dtype == torch.float16:
            pipe.vae.to(torch.float32)  # SDXL's VAE overflows in float16
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


def _unreadable(path: Path, exc: BaseException) -> str:
    """Why a file was skipped: our own errors say it already; anything else gets its type and message."""
    if isinstance(exc, ModelLoadError):
        return str(exc)
    return f"{path.name} could not be read ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'})"


def demo_entry() -> dict[str, Any]:
    return {
        "description": DEMO_DESCRIPTION,
        "format": "demo",
        "path": f"models/{DEMO_MODEL_NAME}",
        "width": 512,
        "height": 512,
    }


def pipeline_family(pipeline: Any) -> str:
    """sd1, sd2 or sdxl for a loaded pipeline."""
    if getattr(pipeline, "text_encoder_2", None) is not None:
        return "sdxl"
    return "sd2" if int(pipeline.text_encoder.config.hidden_size) == 1024 else "sd1"


def _cached_hub_file(repo_id: str, filename: str) -> Path | None:
    """A file of a Hugging Face repo from the local cache only (no network), or None."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, filename)
    except Exception:  # an odd repo id, no cache folder
        return None
    return Path(found) if isinstance(found, str) else None
