"""Engine overhead and preview cost: ``Generate.prompt2image`` against a bare diffusers
``StableDiffusionPipeline.__call__`` on the same loaded model, scheduler, steps, size, seed and
precision, timed A B A B ...

    python bench/bench_engine.py [--sd15-pairs 5] [--demo-pairs 20]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import interleave, table, write_result


def bare_call(gen, prompt: str, steps: int, size: int, seed: int):
    """What a user of plain diffusers would write, with the engine's scheduler class and precision."""
    import torch
    from diffusers import LMSDiscreteScheduler

    from ldm.invoke.devices import autocast_for

    pipe = gen._model().pipeline
    pipe.scheduler = LMSDiscreteScheduler.from_config(pipe.scheduler.config)

    def run():
        with torch.inference_mode(), autocast_for(gen.precision, gen.torch_device):
            return pipe(prompt, num_inference_steps=steps, height=size, width=size, guidance_scale=7.5,
                        generator=torch.Generator("cpu").manual_seed(seed)).images[0]

    return run


def ours(gen, prompt: str, steps: int, size: int, seed: int, preview_every: int):
    def run():
        return gen.prompt2image(prompt, steps=steps, width=size, height=size, cfg_scale=7.5, sampler_name="k_lms",
                                seed=seed, preview_every=preview_every,
                                step_callback=(lambda s, t, p: None))[0][0]

    return run


def sd15_root(tmp: Path) -> Path:
    """A Stable-Diffusion-1.5-shaped pipeline (real channel counts, random weights) saved as a model."""
    import torch
    import yaml
    from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from ldm.invoke.clip_vocab import write_clip_tokenizer_files
    from ldm.invoke.demo_model import build_demo_pipeline

    torch.manual_seed(0)
    unet = UNet2DConditionModel(cross_attention_dim=768, attention_head_dim=8, sample_size=64)
    vae = AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
                        sample_size=512)
    text = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                        num_attention_heads=12, max_position_embeddings=77, projection_dim=768))
    vocab, merges = write_clip_tokenizer_files(tmp / "tok")
    tok = CLIPTokenizer(str(vocab), str(merges), model_max_length=77, pad_token="<|endoftext|>")
    demo = build_demo_pipeline()
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tok, unet=unet, scheduler=demo.scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(tmp / "models" / "sd15-random")
    (tmp / "models.yaml").write_text(yaml.safe_dump({"sd15-random": {
        "description": "SD-1.5-shaped, random weights", "format": "diffusers", "path": "models/sd15-random",
        "default": True}}))
    return tmp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--demo-pairs", type=int, default=20)
    ap.add_argument("--sd15-pairs", type=int, default=5)
    ap.add_argument("--skip-sd15", action="store_true")
    args = ap.parse_args()

    from ldm.invoke.generate import Generate

    rows, out = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        demo = Generate(root=Path(tmp) / "demo")
        demo.load_model()
        prompt, seed = "strawberry sushi", 42
        r = interleave(ours(demo, prompt, 10, 256, seed, 0), bare_call(demo, prompt, 10, 256, seed), args.demo_pairs)
        out["demo_overhead"] = r
        rows.append(["engine vs bare diffusers, demo 256px 10 steps", r["a_median_s"], r["b_median_s"], r["ratio"],
                     f"{r['pair_ratio_min']:.3f}-{r['pair_ratio_max']:.3f}", "<= 1.05"])
        r = interleave(ours(demo, prompt, 10, 256, seed, 1), ours(demo, prompt, 10, 256, seed, 0), args.demo_pairs)
        out["demo_preview_cost"] = r
        rows.append(["previews every step vs none, demo 256px", r["a_median_s"], r["b_median_s"], r["ratio"],
                     f"{r['pair_ratio_min']:.3f}-{r['pair_ratio_max']:.3f}", "<= 1.02"])
        if not args.skip_sd15:
            root = sd15_root(Path(tmp) / "sd15")
            sd = Generate(root=root)
            sd.load_model()
            r = interleave(ours(sd, prompt, 4, 256, seed, 0), bare_call(sd, prompt, 4, 256, seed), args.sd15_pairs)
            out["sd15_overhead"] = r
            rows.append(["engine vs bare diffusers, SD-1.5 shape 256px 4 steps", r["a_median_s"], r["b_median_s"],
                         r["ratio"], f"{r['pair_ratio_min']:.3f}-{r['pair_ratio_max']:.3f}", "<= 1.03"])
            r = interleave(ours(sd, prompt, 4, 256, seed, 1), ours(sd, prompt, 4, 256, seed, 0), args.sd15_pairs)
            out["sd15_preview_cost"] = r
            rows.append(["previews every step vs none, SD-1.5 shape 256px", r["a_median_s"], r["b_median_s"],
                         r["ratio"], f"{r['pair_ratio_min']:.3f}-{r['pair_ratio_max']:.3f}", "<= 1.02"])
        out["precision"] = demo.precision
    print(table(rows, ["measure", "ours s", "baseline s", "ratio", "pair spread", "goal"]))
    print("wrote", write_result("engine", out))


if __name__ == "__main__":
    main()
