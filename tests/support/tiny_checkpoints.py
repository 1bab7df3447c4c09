"""Tiny SD 1.x, SD 2.x and SDXL pipelines with seeded random weights, written as single-file checkpoints in
the original LDM (CompVis / Stability) key layout, as AUTOMATIC1111 and ComfyUI users have them.

The diffusers → LDM mapping here is the inverse of what the product's loader does; it is written
independently (from the LDM module layout) so a round trip checks the loader, not itself.
Sizes follow each family's rules (SD 1.x: 8 attention heads; SD 2.x/SDXL: 64-wide heads; CLIP:
64-wide heads) so the loader's configs match the pipelines built here exactly.
"""

from __future__ import annotations

from pathlib import Path

import torch

TINY_CLIP = {"vocab_size": 49408, "max_position_embeddings": 77, "bos_token_id": 49406, "eos_token_id": 49407}


def _clip_config(hidden: int, layers: int, act: str, projection: int | None = None):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
                          num_attention_heads=max(1, hidden // 64), hidden_act=act,
                          projection_dim=projection or hidden, pad_token_id=49407, **TINY_CLIP)


def _vae(scaling: float, sample_size: int, force_upcast: bool = False):
    from diffusers import AutoencoderKL

    return AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                         up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(32, 32, 32, 32),
                         layers_per_block=1, latent_channels=4, norm_num_groups=32, sample_size=sample_size,
                         scaling_factor=scaling, force_upcast=force_upcast)


def _tokenizer(pad: str):
    import tempfile

    from transformers import CLIPTokenizer

    from ldm.invoke.clip_vocab import write_clip_tokenizer_files

    with tempfile.TemporaryDirectory() as tmp:
        vocab, merges = write_clip_tokenizer_files(Path(tmp))
        return CLIPTokenizer(str(vocab), str(merges), model_max_length=77, pad_token=pad)


def _randomize_norms(module: torch.nn.Module, seed: int) -> None:
    """Freshly built norms are all ones and zeros; spread them so a wrong key mapping shows up."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (torch.nn.LayerNorm, torch.nn.GroupNorm)) and m.weight is not None:
                m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))


def build_tiny_pipeline(family: str, seed: int = 0, prediction_type: str = "epsilon"):
    """A diffusers pipeline of the family's shape with few channels (seconds to build, ~1-3 MB)."""
    from diffusers import (
        EulerDiscreteScheduler,
        PNDMScheduler,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    sched = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "steps_offset": 1,
             "set_alpha_to_one": False, "prediction_type": prediction_type, "timestep_spacing": "leading"}
    if family == "sd1":
        unet = UNet2DConditionModel(
            sample_size=64, in_channels=4, out_channels=4, block_out_channels=(32, 64), layers_per_block=1,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=64, attention_head_dim=8, norm_num_groups=32)
        te = CLIPTextModel(_clip_config(64, 2, "quick_gelu"))
        parts = [unet, te]
        vae = _vae(0.18215, 512)
        pipe = StableDiffusionPipeline(vae=vae, text_encoder=te, tokenizer=_tokenizer("<|endoftext|>"), unet=unet,
                                       scheduler=PNDMScheduler(skip_prk_steps=True, **sched), safety_checker=None,
                                       feature_extractor=None, requires_safety_checker=False)
    elif family == "sd2":
        unet = UNet2DConditionModel(
            sample_size=96, in_channels=4, out_channels=4, block_out_channels=(64, 128), layers_per_block=1,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=64, attention_head_dim=(1, 2), norm_num_groups=32, use_linear_projection=True,
            upcast_attention=True)
        te = CLIPTextModel(_clip_config(64, 2, "gelu"))
        parts = [unet, te]
        vae = _vae(0.18215, 768)
        pipe = StableDiffusionPipeline(vae=vae, text_encoder=te, tokenizer=_tokenizer("!"), unet=unet,
                                       scheduler=PNDMScheduler(skip_prk_steps=True, **sched), safety_checker=None,
                                       feature_extractor=None, requires_safety_checker=False)
    elif family == "sdxl":
        unet = UNet2DConditionModel(
            sample_size=128, in_channels=4, out_channels=4, block_out_channels=(64, 128), layers_per_block=1,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            transformer_layers_per_block=(1, 2), cross_attention_dim=96, attention_head_dim=(1, 2),
            norm_num_groups=32, use_linear_projection=True, addition_embed_type="text_time",
            addition_time_embed_dim=8, projection_class_embeddings_input_dim=6 * 8 + 32)
        te = CLIPTextModel(_clip_config(32, 2, "quick_gelu"))
        te2 = CLIPTextModelWithProjection(_clip_config(64, 2, "gelu", projection=32))
        te2.config.pad_token_id = 0
        parts = [unet, te, te2]
        vae = _vae(0.13025, 1024, force_upcast=True)
        pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=te, text_encoder_2=te2, tokenizer=_tokenizer("<|endoftext|>"),
                                         tokenizer_2=_tokenizer("!"), unet=unet,
                                         scheduler=EulerDiscreteScheduler(**{k: v for k, v in sched.items() if k != "set_alpha_to_one"}), force_zeros_for_empty_prompt=True)
    else:
        raise ValueError(family)
    for i, part in enumerate(parts + [vae]):
        _randomize_norms(part, seed * 10 + i)
    pipe.set_progress_bar_config(disable=True)
    return pipe


# ---------------------------------------------------------------------------------------------
# diffusers → LDM keys


def _resnet_to_ldm(name: str) -> str:
    for new, old in (("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("time_emb_proj", "emb_layers.1"),
                     ("norm2", "out_layers.0"), ("conv2", "out_layers.3"), ("conv_shortcut", "skip_connection")):
        name = name.replace(new + ".", old + ".")
    return name


def unet_to_ldm(unet) -> dict[str, torch.Tensor]:
    cfg = unet.config
    per = cfg.layers_per_block
    levels = len(cfg.block_out_channels)
    out: dict[str, torch.Tensor] = {}
    fixed = {"conv_in.": "input_blocks.0.0.", "time_embedding.linear_1.": "time_embed.0.",
             "time_embedding.linear_2.": "time_embed.2.", "conv_norm_out.": "out.0.", "conv_out.": "out.2.",
             "add_embedding.linear_1.": "label_emb.0.0.", "add_embedding.linear_2.": "label_emb.0.2."}
    for key, value in unet.state_dict().items():
        new = None
        for a, b in fixed.items():
            if key.startswith(a):
                new = b + key[len(a):]
        parts = key.split(".")
        if new is None and parts[0] == "down_blocks":
            i, kind = int(parts[1]), parts[2]
            rest = ".".join(parts[4:])
            if kind == "resnets":
                new = f"input_blocks.{(per + 1) * i + int(parts[3]) + 1}.0." + _resnet_to_ldm(rest + ".")[:-1]
            elif kind == "attentions":
                new = f"input_blocks.{(per + 1) * i + int(parts[3]) + 1}.1." + rest
            elif kind == "downsamplers":
                new = f"input_blocks.{(per + 1) * (i + 1)}.0.op." + ".".join(parts[5:])
        elif new is None and parts[0] == "up_blocks":
            i, kind = int(parts[1]), parts[2]
            rest = ".".join(parts[4:])
            if kind == "resnets":
                new = f"output_blocks.{(per + 1) * i + int(parts[3])}.0." + _resnet_to_ldm(rest + ".")[:-1]
            elif kind == "attentions":
                new = f"output_blocks.{(per + 1) * i + int(parts[3])}.1." + rest
            elif kind == "upsamplers":
                has_attention = "CrossAttn" in cfg.up_block_types[i]
                new = f"output_blocks.{(per + 1) * i + per}.{2 if has_attention else 1}.conv." + ".".join(parts[5:])
        elif new is None and parts[0] == "mid_block":
            kind, j = parts[1], int(parts[2])
            rest = ".".join(parts[3:])
            if kind == "attentions":
                new = "middle_block.1." + rest
            else:
                new = f"middle_block.{2 * j}." + _resnet_to_ldm(rest + ".")[:-1]
        if new is None:
            raise KeyError(f"no LDM name for UNet key {key}")
        out["model.diffusion_model." + new] = value.clone()
    assert levels >= 1
    return out


def vae_to_ldm(vae) -> dict[str, torch.Tensor]:
    n = len(vae.config.block_out_channels)
    out: dict[str, torch.Tensor] = {}
    for key, value in vae.state_dict().items():
        parts = key.split(".")
        new = key
        if parts[1] == "down_blocks":
            i = int(parts[2])
            if parts[3] == "resnets":
                new = f"{parts[0]}.down.{i}.block.{parts[4]}." + ".".join(parts[5:])
            else:
                new = f"{parts[0]}.down.{i}.downsample.conv." + parts[-1]
        elif parts[1] == "up_blocks":
            i = n - 1 - int(parts[2])
            if parts[3] == "resnets":
                new = f"{parts[0]}.up.{i}.block.{parts[4]}." + ".".join(parts[5:])
            else:
                new = f"{parts[0]}.up.{i}.upsample.conv." + parts[-1]
        elif parts[1] == "mid_block" and parts[2] == "resnets":
            new = f"{parts[0]}.mid.block_{int(parts[3]) + 1}." + ".".join(parts[4:])
        elif parts[1] == "mid_block" and parts[2] == "attentions":
            inner = ".".join(parts[4:])
            for a, b in (("group_norm.", "norm."), ("to_q.", "q."), ("to_k.", "k."), ("to_v.", "v."),
                         ("to_out.0.", "proj_out.")):
                if inner.startswith(a):
                    inner = b + inner[len(a):]
            new = f"{parts[0]}.mid.attn_1." + inner
            if value.ndim == 2:
                value = value[:, :, None, None]  # LDM's attention projections are 1x1 convolutions
        elif parts[1] == "conv_norm_out":
            new = f"{parts[0]}.norm_out." + parts[-1]
        new = new.replace("conv_shortcut", "nin_shortcut")
        out["first_stage_model." + new] = value.clone()
    return out


def hf_clip_to_ldm(te, prefix: str) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in te.state_dict().items():
        key = key if key.startswith("text_model.") else "text_model." + key
        out[prefix + key] = value.clone()
    return out


def open_clip_to_ldm(te, prefix: str, extra_layer: bool = False, seed: int = 0) -> dict[str, torch.Tensor]:
    sd = {k.removeprefix("text_model."): v for k, v in te.state_dict().items()}
    out: dict[str, torch.Tensor] = {}
    layers = te.config.num_hidden_layers
    for i in range(layers):
        base = f"encoder.layers.{i}."
        res = f"{prefix}transformer.resblocks.{i}."
        out[res + "attn.in_proj_weight"] = torch.cat([sd[base + f"self_attn.{p}_proj.weight"] for p in "qkv"])
        out[res + "attn.in_proj_bias"] = torch.cat([sd[base + f"self_attn.{p}_proj.bias"] for p in "qkv"])
        for a, b in (("self_attn.out_proj", "attn.out_proj"), ("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"),
                     ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj")):
            for p in ("weight", "bias"):
                out[res + f"{b}.{p}"] = sd[base + f"{a}.{p}"].clone()
    hidden = te.config.hidden_size
    if extra_layer:  # SD 2.x checkpoints hold the last layer too; the model conditions on the one before it
        g = torch.Generator().manual_seed(seed)
        res = f"{prefix}transformer.resblocks.{layers}."
        for name, shape in (("attn.in_proj_weight", (3 * hidden, hidden)), ("attn.in_proj_bias", (3 * hidden,)),
                            ("attn.out_proj.weight", (hidden, hidden)), ("attn.out_proj.bias", (hidden,)),
                            ("ln_1.weight", (hidden,)), ("ln_1.bias", (hidden,)), ("ln_2.weight", (hidden,)),
                            ("ln_2.bias", (hidden,)), ("mlp.c_fc.weight", (2 * hidden, hidden)),
                            ("mlp.c_fc.bias", (2 * hidden,)), ("mlp.c_proj.weight", (hidden, 2 * hidden)),
                            ("mlp.c_proj.bias", (hidden,))):
            out[res + name] = torch.randn(shape, generator=g) * 0.02
    out[prefix + "token_embedding.weight"] = sd["embeddings.token_embedding.weight"].clone()
    out[prefix + "positional_embedding"] = sd["embeddings.position_embedding.weight"].clone()
    out[prefix + "ln_final.weight"] = sd["final_layer_norm.weight"].clone()
    out[prefix + "ln_final.bias"] = sd["final_layer_norm.bias"].clone()
    if "text_projection.weight" in sd:
        out[prefix + "text_projection"] = sd["text_projection.weight"].T.contiguous()
    else:
        out[prefix + "text_projection"] = torch.randn(hidden, hidden) * 0.02
    return out


def pipeline_to_ldm(pipe, family: str) -> dict[str, torch.Tensor]:
    sd = {**unet_to_ldm(pipe.unet), **vae_to_ldm(pipe.vae)}
    if family == "sd1":
        sd.update(hf_clip_to_ldm(pipe.text_encoder, "cond_stage_model.transformer."))
    elif family == "sd2":
        sd.update(open_clip_to_ldm(pipe.text_encoder, "cond_stage_model.model.", extra_layer=True))
    else:
        sd.update(hf_clip_to_ldm(pipe.text_encoder, "conditioner.embedders.0.transformer."))
        sd.update(open_clip_to_ldm(pipe.text_encoder_2, "conditioner.embedders.1.model."))
    return sd


V_PREDICTION_YAML = "model:\n  target: ldm.models.diffusion.ddpm.LatentDiffusion\n  params:\n    parameterization: \"v\"\n"


def write_checkpoint(pipe, family: str, path: Path, v_prediction_yaml: bool = False) -> Path:
    """Writes ``path`` (.safetensors, or a plain-tensor .ckpt under ``state_dict``) and, for SD 2.x
    v-prediction, the ``.yaml`` beside it that AUTOMATIC1111 users keep there."""
    from safetensors.torch import save_file

    sd = {k: v.contiguous() for k, v in pipeline_to_ldm(pipe, family).items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        save_file(sd, str(path))
    else:
        torch.save({"state_dict": sd, "global_step": 1}, path)
    if v_prediction_yaml:
        path.with_suffix(".yaml").write_text(V_PREDICTION_YAML)
    return path


def write_tiny_lora(pipe, path: Path, seed: int = 0, rank: int = 4, scale: float = 1.0) -> Path:
    """A LoRA in the kohya / AUTOMATIC1111 layout (lora_unet_* and lora_te_* keys) for the pipeline's
    attention projections, with weights big enough to change a tiny model's output visibly."""
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}

    def add(prefix: str, module_name: str, linear: torch.nn.Linear) -> None:
        name = prefix + module_name.replace(".", "_")
        sd[name + ".lora_down.weight"] = torch.randn(rank, linear.in_features, generator=g) * scale
        sd[name + ".lora_up.weight"] = torch.randn(linear.out_features, rank, generator=g) * scale
        sd[name + ".alpha"] = torch.tensor(float(rank))

    for name, module in pipe.unet.named_modules():
        if isinstance(module, torch.nn.Linear) and (".attn1." in name or ".attn2." in name) and name.endswith(
                ("to_q", "to_k", "to_v", "to_out.0")):
            add("lora_unet_", name, module)
    for name, module in pipe.text_encoder.named_modules():
        if isinstance(module, torch.nn.Linear) and "self_attn" in name and name.endswith(
                ("q_proj", "k_proj", "v_proj", "out_proj")):
            full = name if name.startswith("text_model.") else "text_model." + name
            add("lora_te_", full, module)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(sd, str(path))
    return path


def write_tiny_embedding(hidden: int, path: Path, vectors: int = 2, seed: int = 0) -> Path:
    """A textual-inversion embedding in AUTOMATIC1111's .pt layout (string_to_param) or as safetensors
    (emb_params), with vectors large enough to move a tiny model."""
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(vectors, hidden, generator=g) * 2.0
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({"emb_params": emb}, str(path))
    else:
        torch.save({"string_to_token": {"*": torch.tensor(265)}, "string_to_param": {"*": emb},
                    "name": path.stem, "step": 100}, path)
    return path
