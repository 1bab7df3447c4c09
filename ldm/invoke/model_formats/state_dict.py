"""Reading weight files safely: ``.safetensors`` directly, pickles (``.ckpt``/``.pt``/``.bin``) only when
they hold plain tensors (``torch.load(weights_only=True)``), and tensor shapes without loading the data."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..errors import ModelLoadError
from .suffixes import SAFETENSORS_SUFFIXES

log = logging.getLogger(__name__)


Shapes = dict[str, tuple[int, ...]]


class UnsafePickleError(ModelLoadError):
    """A pickled weight file that would need arbitrary code to load."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(
            f"{path.name} was refused: it is a pickle that holds more than plain tensors, and loading it "
            f"could run arbitrary code. Use a .safetensors version of this model instead (most model "
            f"sites offer one). Details: {detail.splitlines()[0] if detail else 'unsupported object'}"
        )
        self.path = path


def load_raw(path: str | Path) -> Any:
    """The file's contents: a dict of tensors for safetensors; for a pickle, whatever plain data it holds."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"Weight file {path} does not exist")
    if path.suffix.lower() in SAFETENSORS_SUFFIXES:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as e:
            raise ModelLoadError(f"{path.name} is not a readable .safetensors file ({e})") from e
    try:
        try:
            return torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as e:
            if "mmap" not in str(e).lower() and "zip" not in str(e).lower():
                raise
            # Files in torch's legacy (pre-zip) format cannot be memory-mapped.
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if _names_code(str(e)):
            raise UnsafePickleError(path, str(e)) from None
        raise ModelLoadError(
            f"{path.name} is damaged or not a PyTorch checkpoint (its pickle stops where torch's safe loader "
            f"expects tensors: {_unpickler_detail(str(e))}); a .safetensors version of a model always loads"
        ) from None
    except MemoryError:
        raise ModelLoadError(f"{path.name} could not be read: it needs more memory than is free") from None
    except Exception as e:  # noqa: BLE001 - torch's loaders fail on junk in many ways (KeyError, IndexError, ...)
        raise ModelLoadError(f"{path.name} could not be read as a PyTorch checkpoint ({_reason(e)})") from e


def _names_code(detail: str) -> bool:
    """torch's weights-only unpickler names the global a pickle wanted; junk bytes fail on other opcodes."""
    return "global" in detail.lower()


def _unpickler_detail(detail: str) -> str:
    """The one useful line of torch's long weights-only message (e.g. ``Unsupported operand 149``)."""
    _, _, after = detail.partition("WeightsUnpickler error:")
    lines = [line.strip() for line in (after or detail).splitlines() if line.strip()]
    return lines[0] if lines else "unreadable data"


def _reason(exc: BaseException) -> str:
    """The first line of an exception's message, or its type when the message is empty (a bare KeyError)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    if not text:
        return f"{name}: the file ends or breaks where a checkpoint's data should be"
    return text if isinstance(exc, (RuntimeError, OSError, ValueError, EOFError)) else f"{name}: {text}"


def unwrap_state_dict(data: Any) -> dict[str, Any]:
    """Checkpoints often nest the weights under ``state_dict`` (PyTorch Lightning); return the inner dict."""
    if not isinstance(data, Mapping):
        raise ModelLoadError("The file does not hold a dictionary of weights")
    while isinstance(data.get("state_dict"), Mapping):
        data = data["state_dict"]
    return dict(data)


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Only the tensors of a checkpoint (``global_step`` and similar bookkeeping dropped)."""
    data = unwrap_state_dict(load_raw(path))
    return {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}


def read_shapes(path: str | Path) -> Shapes:
    """Tensor names and shapes. For safetensors only the header is read, so probing a 7 GB file is instant."""
    path = Path(path)
    if path.suffix.lower() in SAFETENSORS_SUFFIXES:
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
        except (SafetensorError, OSError, ValueError) as e:
            raise ModelLoadError(f"{path.name} is not a readable .safetensors file ({e})") from e
    return shapes_of(flatten(unwrap_state_dict(load_raw(path))))


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts (an A1111 embedding's ``string_to_param``) as dotted keys."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def shapes_of(tensors: Mapping[str, Any]) -> Shapes:
    return {k: tuple(v.shape) for k, v in tensors.items() if isinstance(v, torch.Tensor)}
