"""A request's control units checked against the models they will run with (known ControlNet, same
family as the pipeline, readable control image) and made ready: ControlNets loaded, maps made."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameterError
from ..model_formats.probe import FAMILY_NAMES
from ..request import GenerationRequest
from .inpaint import NOTHING_TO_FILL, has_part_to_fill
from .kinds import CONTROL_KINDS, CONTROLNET
from .preprocess import control_image, missing_weight_error
from .table import PREPROCESSORS, missing_weights

if TYPE_CHECKING:
    from ..model_manager import ModelManager
    from .steering import ControlSteering


def check_units(request: GenerationRequest, control_families: Mapping[str, str], family: str,
                model_name: str, annotators: tuple[Path, frozenset[str]] | None = None,
                kinds: Mapping[str, str] | None = None) -> None:
    """Raises ``InvalidParameterError`` naming the unit for a control model that is unknown (not in
    ``control_families``, models.yaml's control models by name; ``kinds`` says which are T2I-Adapters)
    or of another family than ``model_name``'s,
    a preprocessor whose weights are not among ``annotators`` (the folder and the names in it), or a
    control image that cannot be read."""
    for index, unit in enumerate(request.control):
        field = f"control[{index}]"
        unit_family = control_families.get(unit.model)
        if unit_family is None:
            known = ", ".join(control_families) or "none (scan an A1111 models/ControlNet or ComfyUI " \
                                                    "models/controlnet folder)"
            raise InvalidParameterError(f"{field}.model", f"Unknown control model {unit.model!r}; models.yaml "
                                                          f"lists: {known}")
        if unit_family != family:
            kind = CONTROL_KINDS.get((kinds or {}).get(unit.model, CONTROLNET), "ControlNet")
            raise InvalidParameterError(
                f"{field}.model", f"{unit.model} is a {kind} for {FAMILY_NAMES.get(unit_family, unit_family)} "
                f"and the model {model_name} is {FAMILY_NAMES.get(family, family)}; choose a {kind} made "
                f"for {FAMILY_NAMES.get(family, family)}")
        if annotators is not None:
            folder, present = annotators
            for name in missing_weights(unit.preprocessor, present):
                raise missing_weight_error(index, unit.preprocessor, name, folder)
        picture = control_image(unit, index)
        if PREPROCESSORS[unit.preprocessor].masks and not has_part_to_fill(picture):
            raise InvalidParameterError(f"{field}.image", NOTHING_TO_FILL)


def annotators(root: Path) -> tuple[Path, frozenset[str]]:
    """The root's annotator folder and the file names in it, as ``check_units`` takes them."""
    from .table import ANNOTATOR_FOLDER, annotator_files

    return Path(root) / ANNOTATOR_FOLDER, annotator_files(root)


def steering_for(request: GenerationRequest, manager: ModelManager, device: Any, dtype: Any,
                 vae_scale: int, attention: str = "sdpa") -> tuple[ControlSteering | None, list[str]]:
    """The steering of the request's units (None without units) and each unit's model hash; a ControlNet's
    attention runs as the UNet's does (``attention``: sdpa or sliced). Maps need ``manager.root``."""
    if not request.control:
        return None, []
    from ..attention import use_attention
    from .preprocess import make_map
    from .steering import ActiveUnit, ControlSteering

    units, hashes = [], []
    for index, unit in enumerate(request.control):
        loaded = manager.get_control(unit.model, dtype)
        model = loaded.model
        if model.device != device or model.dtype != dtype:
            model = model.to(device, dtype)
        use_attention(model, attention)  # (an adapter has no attention layers)
        units.append(ActiveUnit(unit, model, make_map(unit, index, manager.root, device), loaded.kind))
        hashes.append(loaded.hash)
    return ControlSteering(units, device, dtype, vae_scale), hashes
