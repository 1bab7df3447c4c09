"""The built-in demo model: a tiny Stable-Diffusion-architecture pipeline with seeded random weights.

It keeps SD's shapes wherever code depends on them (latent factor 8, 4 latent channels, a
77-token CLIP context with CLIP's real BPE vocabulary) but has few channels, so every feature
runs on a fresh CPU-only machine with no downloads. Its images are noise-like: it is a demo.
It is written once with ``save_pretrained`` and loaded with ``from_pretrained`` like any model.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

DEMO_MODEL_NAME = "demo"
DEMO_DESCRIPTION = (
    "Demo model with random weights: it makes noise-like pictures, not real images. "
    "Run `invokeai-configure` to install Stable Diffusion 1.5."
)
DEMO_VERSION = 1
_MARKER = "invokeai-demo-model.txt"


def build_demo_pipeline(seed: int = 0):
    """Creates the tiny pipeline in memory (every component seeded)."""
    import torch  # here, not at the top: the studio reads DEMO_* names while it starts, before torch loads
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from .clip_vocab import write_clip_tokenizer_files

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=64,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=8,
    )
    torch.manual_seed(seed + 1)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(16, 32, 32, 32),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=512,
        scaling_factor=0.18215,
    )
    torch.manual_seed(seed + 2)
    text_config = CLIPTextConfig(
        vocab_size=49408,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        projection_dim=32,
        bos_token_id=49406,
        eos_token_id=49407,
        pad_token_id=49407,
    )
    text_encoder = CLIPTextModel(text_config)
    with tempfile.TemporaryDirectory() as tmp:
        vocab, merges = write_clip_tokenizer_files(Path(tmp))
        tokenizer = CLIPTokenizer(str(vocab), str(merges), model_max_length=77, pad_token="<|endoftext|>")
    scheduler = PNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        skip_prk_steps=True,
        steps_offset=1,
        set_alpha_to_one=False,
    )
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def demo_model_path(root: Path, name: str = DEMO_MODEL_NAME) -> Path:
    return root / "models" / name


def ensure_demo_model(root: Path, seed: int = 0, target: Path | None = None) -> Path:
    """Writes the demo model (default ``root/models/demo``) unless a complete copy is there already.
    A different ``seed`` gives a different demo model (tests use two to switch between)."""
    target = target or demo_model_path(root)
    marker = target / _MARKER
    if marker.exists() and marker.read_text().strip() == f"{DEMO_VERSION} {seed}":
        return target
    log.info("Writing the demo model (random weights) to %s", target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".demo-", dir=target.parent))
    try:
        build_demo_pipeline(seed).save_pretrained(staging, safe_serialization=True)
        (staging / _MARKER).write_text(f"{DEMO_VERSION} {seed}\n")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)  # all or nothing: a crash never leaves half a model
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
