"""Single-file checkpoints (``.safetensors`` / ``.ckpt`` in the original LDM layout) to diffusers pipelines,
with no network: the family's shipped configuration, sized from the checkpoint's own tensors, and
diffusers' own key conversion functions. Tokenizers are built from the BPE vocabulary open_clip ships."""

from __future__ import annotations

import atexit
import logging
import re
import shutil
import tempfile
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from ..errors import ModelLoadError
from .families import family_config
from .probe import (
    FAMILY_NAMES,
    UNET,
    checkpoint_family,
    config_prediction_type,
    guess_sd2_prediction,
    read_original_config,
    sidecar_config,
    unet_head_settings,
)
from .state_dict import Shapes, load_tensors, shapes_of

log = logging.getLogger(__name__)

VAE = "first_stage_model."


def _indices(shapes: Mapping[str, Any], prefix: str) -> list[int]:
    """The distinct integers that follow ``prefix`` in the keys (block or layer numbers)."""
    found = set()
    for key in shapes:
        if key.startswith(prefix):
            head = key[len(prefix) :].split(".", 1)[0]
            if head.isdigit():
                found.add(int(head))
    return sorted(found)


def _public(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if not k.startswith("_")}


# ---------------------------------------------------------------------------------------------
# Configurations sized from the tensors


def unet_config(family: str, shapes: Shapes, original: dict[str, Any] | None = None) -> dict[str, Any]:
    """The family's UNet config with block count, channels, layers, attention and conditioning sizes read
    from the checkpoint (so fine-tunes and smaller models of the same family load too)."""
    fam = family_config(family)
    config = dict(fam["unet"])
    conv_in = shapes[UNET + "input_blocks.0.0.weight"]
    config["in_channels"] = conv_in[1]
    config["out_channels"] = shapes[UNET + "out.2.weight"][0]
    inputs = _indices(shapes, UNET + "input_blocks.")
    downsamplers = [i for i in inputs if UNET + f"input_blocks.{i}.0.op.weight" in shapes]
    per_level = (downsamplers[0] - 1) if downsamplers else len(inputs) - 1
    levels = len(inputs) // (per_level + 1)
    if levels < 1 or per_level < 1:
        raise ModelLoadError("The checkpoint's UNet has an unexpected block layout")
    firsts = [1 + level * (per_level + 1) for level in range(levels)]
    channels = [shapes[UNET + f"input_blocks.{i}.0.out_layers.3.weight"][0] for i in firsts]
    has_attention = [UNET + f"input_blocks.{i}.1.proj_in.weight" in shapes for i in firsts]
    layers = [len(_indices(shapes, UNET + f"input_blocks.{i}.1.transformer_blocks.")) or 1 for i in firsts]
    config["layers_per_block"] = per_level
    config["block_out_channels"] = channels
    config["down_block_types"] = ["CrossAttnDownBlock2D" if a else "DownBlock2D" for a in has_attention]
    config["up_block_types"] = ["CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(has_attention)]
    mid_layers = len(_indices(shapes, UNET + "middle_block.1.transformer_blocks."))
    if "transformer_layers_per_block" in config or any(n > 1 for n in layers) or mid_layers > 1:
        # diffusers' mid block takes the last level's count; SDXL's (10) agrees with its mid block.
        config["transformer_layers_per_block"] = layers
    cross = next((v for k, v in shapes.items() if k.startswith(UNET) and k.endswith("attn2.to_k.weight")), None)
    if cross is not None:
        config["cross_attention_dim"] = cross[1]
    proj_in = next((v for k, v in shapes.items() if k.startswith(UNET) and k.endswith(".proj_in.weight")), None)
    if proj_in is not None:
        config["use_linear_projection"] = len(proj_in) == 2
    heads = unet_head_settings(original)
    rule = fam["unet_heads"]
    if "num_heads" in heads:
        config["attention_head_dim"] = heads["num_heads"]
    elif "num_head_channels" in heads or rule["rule"] == "head_channels":
        per_head = heads.get("num_head_channels", rule["value"])
        config["attention_head_dim"] = [max(1, c // per_head) for c in channels]
    else:
        config["attention_head_dim"] = rule["value"]
    label = shapes.get(UNET + "label_emb.0.0.weight")
    if label is not None:
        pooled = shapes.get("conditioner.embedders.1.model.text_projection")
        pooled_dim = pooled[1] if pooled is not None else 1280
        config["addition_embed_type"] = "text_time"
        config["projection_class_embeddings_input_dim"] = label[1]
        config["addition_time_embed_dim"] = (label[1] - pooled_dim) // 6
    return config


def vae_config(family: str, shapes: Shapes) -> dict[str, Any]:
    config = dict(family_config(family)["vae"])
    levels = _indices(shapes, VAE + "encoder.down.")
    blocks = _indices(shapes, VAE + "encoder.down.0.block.")
    if not levels or not blocks:
        raise ModelLoadError("The checkpoint has no VAE (first_stage_model.* tensors)")
    config["in_channels"] = shapes[VAE + "encoder.conv_in.weight"][1]
    config["out_channels"] = shapes[VAE + "decoder.conv_out.weight"][0]
    config["layers_per_block"] = len(blocks)
    config["block_out_channels"] = [shapes[VAE + f"encoder.down.{i}.block.{len(blocks) - 1}.conv2.weight"][0]
                                    for i in levels]
    config["down_block_types"] = ["DownEncoderBlock2D"] * len(levels)
    config["up_block_types"] = ["UpDecoderBlock2D"] * len(levels)
    config["latent_channels"] = shapes[VAE + "encoder.conv_out.weight"][0] // 2
    return config


def text_encoder_config(template: dict[str, Any], shapes: Shapes) -> dict[str, Any]:
    """A CLIP text config sized from the tensors (heads are 64 wide in every CLIP text model)."""
    config = dict(template)
    prefix = template["_ldm_prefix"]
    if template["_layout"] == "hf_clip":
        # Checkpoints made with old transformers versions lack the text_model level.
        base = prefix + "text_model." if _indices(shapes, prefix + "text_model.encoder.layers.") else prefix
        vocab, hidden = shapes[base + "embeddings.token_embedding.weight"]
        positions = shapes[base + "embeddings.position_embedding.weight"][0]
        layers = len(_indices(shapes, base + "encoder.layers."))
        intermediate = shapes[base + "encoder.layers.0.mlp.fc1.weight"][0]
    else:
        vocab, hidden = shapes[prefix + "token_embedding.weight"]
        positions = shapes[prefix + "positional_embedding"][0]
        layers = len(_indices(shapes, prefix + "transformer.resblocks."))
        intermediate = shapes[prefix + "transformer.resblocks.0.mlp.c_fc.weight"][0]
        projection = shapes.get(prefix + "text_projection")
        if projection is not None:
            config["projection_dim"] = projection[1]
    if template["_hidden_layers"] == "penultimate":
        layers -= 1  # SD 2.x conditions on the penultimate layer (then the final norm)
    config.update(vocab_size=vocab, hidden_size=hidden, max_position_embeddings=positions,
                  num_hidden_layers=layers, intermediate_size=intermediate,
                  num_attention_heads=max(1, hidden // 64))
    return config


def scheduler_config(family: str, prediction_type: str) -> dict[str, Any]:
    config = dict(family_config(family)["scheduler"])
    config["prediction_type"] = prediction_type
    return config


def pipeline_configs(shapes: Shapes, family: str, prediction_type: str,
                     original: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Every component's config for this checkpoint, keyed like a diffusers model_index."""
    fam = family_config(family)
    try:
        configs = {
            "unet": unet_config(family, shapes, original),
            "vae": vae_config(family, shapes),
            "text_encoder": text_encoder_config(fam["text_encoder"], shapes),
            "scheduler": scheduler_config(family, prediction_type),
            "tokenizer": dict(fam["tokenizer"]),
        }
        if "text_encoder_2" in fam:
            configs["text_encoder_2"] = text_encoder_config(fam["text_encoder_2"], shapes)
            configs["tokenizer_2"] = dict(fam["tokenizer_2"])
    except KeyError as e:
        raise ModelLoadError(f"The checkpoint has no tensor {e.args[0]}: it is incomplete or in a layout "
                             f"this {FAMILY_NAMES[family]} loader does not know") from None
    return configs


# ---------------------------------------------------------------------------------------------
# Building the components


def _assign(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], what: str) -> None:
    """Loads converted tensors into a model created without weights; every parameter must be filled."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    if missing:
        raise ModelLoadError(f"The checkpoint's {what} is missing {len(missing)} tensors (e.g. {missing[0]}); "
                             "the file is incomplete or not of this model family")
    for key, tensor in expected.items():
        if tuple(state_dict[key].shape) != tuple(tensor.shape):
            raise ModelLoadError(f"The checkpoint's {what} tensor {key} has shape {tuple(state_dict[key].shape)}, "
                                 f"expected {tuple(tensor.shape)}")
    model.load_state_dict({k: state_dict[k] for k in expected}, strict=True, assign=True)


def _empty(factory):
    from accelerate import init_empty_weights

    with init_empty_weights(include_buffers=False):
        return factory()


def build_unet(checkpoint: dict[str, torch.Tensor], config: dict[str, Any]):
    from diffusers import UNet2DConditionModel
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint

    converted = convert_ldm_unet_checkpoint(checkpoint, config)
    unet = _empty(lambda: UNet2DConditionModel.from_config(_public(config)))
    _assign(unet, converted, "UNet")
    return unet


def build_vae(checkpoint: dict[str, torch.Tensor], config: dict[str, Any]):
    from diffusers import AutoencoderKL
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

    converted = convert_ldm_vae_checkpoint(checkpoint, config)
    vae = _empty(lambda: AutoencoderKL.from_config(_public(config)))
    _assign(vae, converted, "VAE")
    return vae


_LAYER = re.compile(r"(?:^|\.)encoder\.layers\.(\d+)\.")


def build_text_encoder(checkpoint: dict[str, torch.Tensor], config: dict[str, Any]):
    import transformers
    from diffusers.loaders.single_file_utils import convert_ldm_clip_checkpoint, convert_open_clip_checkpoint

    cls = getattr(transformers, config["_class"])
    hf_config = transformers.CLIPTextConfig(**_public(config))
    model = _empty(lambda: cls(hf_config))
    prefix = config["_ldm_prefix"]
    if config["_layout"] == "hf_clip":
        converted = convert_ldm_clip_checkpoint({k: v for k, v in checkpoint.items() if k.startswith(prefix)},
                                                remove_prefix=prefix)
    else:
        converted = convert_open_clip_checkpoint(model, checkpoint, prefix=prefix)
    # Layers past the ones we run (SD 2.x's last layer) are not part of the model.
    converted = {k: v for k, v in converted.items()
                 if not ((m := _LAYER.search(k)) and int(m.group(1)) >= hf_config.num_hidden_layers)}
    if not hasattr(model, "text_model"):  # transformers flattened CLIPTextModel (no text_model wrapper)
        converted = {k.removeprefix("text_model."): v for k, v in converted.items()}
    _assign(model, converted, "text encoder")
    model.eval()
    return model


@lru_cache(maxsize=1)
def _clip_vocab_files() -> tuple[str, str]:
    """CLIP's vocab.json and merges.txt, derived once per process (deriving them takes seconds)."""
    from ..clip_vocab import write_clip_tokenizer_files

    folder = Path(tempfile.mkdtemp(prefix="invokeai-clip-"))
    atexit.register(shutil.rmtree, folder, True)
    vocab, merges = write_clip_tokenizer_files(folder)
    return str(vocab), str(merges)


def build_tokenizer(settings: dict[str, Any]):
    """A fresh tokenizer each time: textual inversion adds tokens to it, so none may be shared."""
    from transformers import CLIPTokenizer

    vocab, merges = _clip_vocab_files()
    return CLIPTokenizer(vocab, merges, model_max_length=int(settings.get("model_max_length", 77)),
                         pad_token=settings.get("pad_token", "<|endoftext|>"))


def build_scheduler(config: dict[str, Any]):
    import diffusers

    return getattr(diffusers, config["_class_name"]).from_config(_public(config))


# ---------------------------------------------------------------------------------------------
# The whole pipeline


def _to_dtype(model: torch.nn.Module | None, dtype: torch.dtype) -> None:
    if model is not None and any(p.dtype != dtype for p in model.parameters()):
        model.to(dtype)


def resolve_prediction_type(family: str, checkpoint: dict[str, torch.Tensor], original: dict[str, Any] | None,
                            requested: str | None) -> str:
    if requested:
        if requested not in ("epsilon", "v_prediction"):
            raise ModelLoadError(f"prediction_type must be epsilon or v_prediction, not {requested!r}")
        return requested
    from_config = config_prediction_type(original)
    if from_config:
        return from_config
    if family == "sd2":
        return guess_sd2_prediction(checkpoint.get, shapes_of(checkpoint))
    return "epsilon"


def load_checkpoint_pipeline(
    path: str | Path,
    torch_dtype: torch.dtype | None = None,
    prediction_type: str | None = None,
    config_path: str | Path | None = None,
):
    """A StableDiffusionPipeline (SD 1.x/2.x) or StableDiffusionXLPipeline from one checkpoint file.

    ``config_path`` (or ``model.yaml`` beside the file) is an LDM config whose ``parameterization`` and
    attention heads win over the defaults; ``prediction_type`` wins over everything.
    """
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    path = Path(path)
    checkpoint = load_tensors(path)
    shapes = shapes_of(checkpoint)
    family = checkpoint_family(shapes)
    original = read_original_config(Path(config_path) if config_path else sidecar_config(path))
    prediction = resolve_prediction_type(family, checkpoint, original, prediction_type)
    configs = pipeline_configs(shapes, family, prediction, original)
    log.info("Loading %s as %s (%s)", path.name, FAMILY_NAMES[family], prediction)

    unet = build_unet(checkpoint, configs["unet"])
    vae = build_vae(checkpoint, configs["vae"])
    text_encoder = build_text_encoder(checkpoint, configs["text_encoder"])
    text_encoder_2 = build_text_encoder(checkpoint, configs["text_encoder_2"]) if family == "sdxl" else None
    del checkpoint
    if torch_dtype is not None:
        for model in (unet, text_encoder, text_encoder_2):
            _to_dtype(model, torch_dtype)
        # SDXL's VAE overflows in float16 (its config says force_upcast), so it stays in float32 then.
        upcast = configs["vae"].get("force_upcast") and torch_dtype == torch.float16
        _to_dtype(vae, torch.float32 if upcast else torch_dtype)
    tokenizer = build_tokenizer(configs["tokenizer"])
    scheduler = build_scheduler(configs["scheduler"])
    if family == "sdxl":
        pipe = StableDiffusionXLPipeline(
            vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer,
            tokenizer_2=build_tokenizer(configs["tokenizer_2"]), unet=unet, scheduler=scheduler,
            force_zeros_for_empty_prompt=bool(family_config(family).get("force_zeros_for_empty_prompt", True)),
        )
    else:
        pipe = StableDiffusionPipeline(
            vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
            safety_checker=None, feature_extractor=None, requires_safety_checker=False,
        )
    pipe.set_progress_bar_config(disable=True)
    return pipe
