"""PNG metadata in InvokeAI 2.x form (``sd-metadata`` JSON and the ``Dream`` command) plus AUTOMATIC1111's
``parameters`` infotext, readers for AUTOMATIC1111 and InvokeAI 3+ images, and PNG encoding that keeps
them all (``png_bytes``, ``PngWriter``)."""

from __future__ import annotations

import json
import os
import re
import shlex
from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

from . import APP_ID, __version__
from .files import ResultWriter, atomic_write
from .request import SAMPLERS_BY_ID, SEAM, sampler_for_a1111

SD_METADATA = "sd-metadata"
DREAM = "Dream"
A1111_PARAMETERS = "parameters"  # AUTOMATIC1111's infotext chunk
AUTOV2_LENGTH = 10  # AUTOMATIC1111's short model hash: the first hex digits of the file's sha256
SINGLE_FILE_FORMATS = ("checkpoint",)  # models.yaml formats whose weights are one file (its sha256 is the hash)


# ---------------------------------------------------------------------------------------------
# Building and reading our own metadata


def prompt_list(prompt: str, syntax: str = "invoke") -> list[dict[str, Any]]:
    """The ``prompt`` field: InvokeAI 2.x stores a list of {prompt, weight} sub-prompts (an A1111-syntax
    prompt has none: it is kept as written)."""
    from .invoke_syntax import split_negative, split_weighted_subprompts

    if syntax != "invoke":
        return [{"prompt": prompt, "weight": 1.0}]
    positive, negative = split_negative(prompt)
    parts = split_weighted_subprompts(positive)
    if len(parts) == 1 and parts[0][1] == 1.0:
        return [{"prompt": prompt, "weight": 1.0}]
    out = [{"prompt": t, "weight": w} for t, w in parts]
    if negative:
        out[-1]["prompt"] += f" [{negative}]"
    return out


def prompt_text(prompts: Any) -> str:
    """The prompt a user would type, from the ``prompt`` field (a list of sub-prompts or a string)."""
    if isinstance(prompts, str):
        return prompts
    if not prompts:
        return ""
    if len(prompts) == 1 and float(prompts[0].get("weight", 1.0)) == 1.0:
        return str(prompts[0].get("prompt", ""))
    return " ".join(f"{p.get('prompt', '')}:{float(p.get('weight', 1.0)):g}" for p in prompts)


def dream_command(image_meta: dict[str, Any]) -> str:
    """The ``invoke>`` line that reproduces an image, as InvokeAI 2.x wrote it in the ``Dream`` chunk."""
    m = image_meta
    parts = [shlex.quote(prompt_text(m.get("prompt", "")))]
    for switch, key in (("-s", "steps"), ("-S", "seed"), ("-W", "width"), ("-H", "height"), ("-C", "cfg_scale"),
                        ("-A", "sampler")):
        if m.get(key) is not None:  # an image from elsewhere may lack some
            parts.append(f"{switch} {m[key]:g}" if isinstance(m[key], float) else f"{switch} {m[key]}")
    if m.get("seamless"):
        parts.append("--seamless")
    if m.get("hires_fix"):
        parts.append("--hires_fix")
        if m.get("hires_strength") is not None and float(m["hires_strength"]) != 0.75:
            parts.append(f"--hires_strength {float(m['hires_strength']):g}")
    if m.get("clip_skip"):
        parts.append(f"--clip_skip {int(m['clip_skip'])}")
    if m.get("prompt_syntax", "invoke") != "invoke":
        parts.append(f"--prompt_syntax {m['prompt_syntax']}")
    if m.get("negative_prompt"):
        parts.append(f"--negative_prompt {shlex.quote(str(m['negative_prompt']))}")
    if m.get("threshold"):
        parts.append(f"--threshold {m['threshold']:g}")
    if m.get("perlin"):
        parts.append(f"--perlin {m['perlin']:g}")
    variations = m.get("variations") or []
    if variations:
        parts.append("-V " + ",".join(f"{int(s)}:{float(w):g}" for s, w in _variation_pairs(variations)))
    if m.get("init_image_path"):
        parts.append(f"-I {shlex.quote(str(m['init_image_path']))}")
        parts.append(f"-f {float(m.get('strength', 0.75)):g}")
        if m.get("fit"):
            parts.append("--fit")
    if m.get("mask_image_path"):
        parts.append(f"-M {shlex.quote(str(m['mask_image_path']))}")
    if m.get("inpaint_replace"):
        parts.append(f"-r {float(m['inpaint_replace']):g}")
    if m.get("seam_size") is not None and m["seam_size"] != SEAM:
        parts.append(f"--seam_size {int(m['seam_size'])}")
    box = m.get("bounding_box")
    if isinstance(box, dict) and all(k in box for k in ("x", "y", "width", "height")):
        whole = (box["x"], box["y"], box["width"], box["height"]) == (0, 0, m.get("width"), m.get("height"))
        if not whole:
            parts.append(f"--bounding_box {int(box['x'])},{int(box['y'])},{int(box['width'])},{int(box['height'])}")
    for unit in m.get("control") or []:
        if isinstance(unit, dict) and unit.get("model") and unit.get("image_path"):
            parts.append("--control " + shlex.quote(control_switch(unit)))
    for step in m.get("postprocessing") or []:
        if step.get("type") == "esrgan":
            parts.append(f"-U {step.get('scale')} {float(step.get('strength', 0.75)):g}")
        elif step.get("type") in ("gfpgan", "codeformer"):
            parts.append(f"-G {float(step.get('strength', 0.75)):g} -ft {step['type']}")
            if step["type"] == "codeformer" and step.get("fidelity") is not None:
                parts.append(f"-cf {float(step['fidelity']):g}")
    return " ".join(parts)


def control_switch(unit: dict[str, Any]) -> str:
    """A recorded control unit as the value of ``--control`` (``model=...,image=...,weight=...``)."""
    parts = [f"model={unit['model']}", f"image={unit['image_path']}", f"preprocessor={unit.get('preprocessor', 'none')}"]
    for key, name in (("weight", "weight"), ("start", "start"), ("end", "end")):
        if unit.get(key) is not None:
            parts.append(f"{name}={float(unit[key]):g}")
    parts.append(f"mode={unit.get('control_mode', 'balanced')}")
    parts.append(f"resize={unit.get('resize_mode', 'crop')}")
    if unit.get("hires_pass"):  # recorded only when the unit steers one pass of hires fix
        parts.append(f"hires_pass={unit['hires_pass']}")
    parts += [f"{k}={v:g}" for k, v in (unit.get("settings") or {}).items() if isinstance(v, (int, float))]
    return ",".join(parts)


def _variation_pairs(variations: Any) -> list[tuple[int, float]]:
    pairs = []
    for v in variations or []:
        if isinstance(v, dict):
            pairs.append((int(v["seed"]), float(v["weight"])))
        else:
            pairs.append((int(v[0]), float(v[1])))
    return pairs


def variations_for_metadata(pairs: list[tuple[int, float]]) -> list[dict[str, Any]]:
    return [{"seed": int(s), "weight": float(w)} for s, w in pairs]


def build_metadata(model: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
    """``{model, model_id, model_hash, app_id, app_version, image: {...}}`` as InvokeAI 2.x writes it,
    plus ``model_format`` (models.yaml's format) when known: it says whether the hash is one file's."""
    out = {
        "model": "stable diffusion",
        "model_id": model.get("model_id"),
        "model_hash": model.get("model_hash"),
        "app_id": APP_ID,
        "app_version": __version__,
        "image": image,
    }
    if model.get("model_format"):
        out["model_format"] = model["model_format"]
    return out


def attach_metadata(image: Image.Image, metadata: dict[str, Any]) -> Image.Image:
    """Stores the recipe on the image itself, where PIL keeps PNG text chunks, so it travels with it."""
    image.info[SD_METADATA] = json.dumps(metadata)
    image.info[DREAM] = dream_command(metadata.get("image", {}))
    return image


def image_metadata(image: Image.Image) -> dict[str, Any]:
    raw = image.info.get(SD_METADATA)
    return json.loads(raw) if raw else {}


def append_postprocessing(image: Image.Image, metadata: dict[str, Any], step: dict[str, Any]) -> Image.Image:
    """Adds one step to the ``postprocessing`` list (never overwriting earlier steps)."""
    meta = json.loads(json.dumps(metadata)) if metadata else build_metadata({}, {"type": "postprocessed"})
    img = meta.setdefault("image", {})
    img["postprocessing"] = list(img.get("postprocessing") or []) + [step]
    return attach_metadata(image, meta)


# ---------------------------------------------------------------------------------------------
# AUTOMATIC1111's infotext, written from our recipe: "prompt\nNegative prompt: ...\nSteps: 20, ..."


def _infotext_value(value: Any) -> str:
    """A value as AUTOMATIC1111 writes it: quoted (JSON style) when it holds a comma, colon or quote."""
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return json.dumps(text, ensure_ascii=False) if any(c in text for c in ',:\n"') else text


def autov2_hash(metadata: dict[str, Any]) -> str | None:
    """AUTOMATIC1111's "Model hash" (AutoV2): the first 10 hex digits of the weights file's sha256.
    Only a single-file model has one; a folder's combined hash would match nothing A1111 knows."""
    digest = str(metadata.get("model_hash") or "")
    if metadata.get("model_format") not in SINGLE_FILE_FORMATS or not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
        return None
    return digest[:AUTOV2_LENGTH].lower()


def infotext(metadata: dict[str, Any]) -> str:
    """The ``parameters`` text AUTOMATIC1111 writes, for one of our recipes (sd-metadata). The one
    place infotext is made: the PNG chunk of every image we write and the A1111 API's ``infotexts``."""
    from .invoke_syntax import split_negative

    image = metadata.get("image") if isinstance(metadata.get("image"), dict) else {}
    if image.get("prompt_syntax") == "a1111":
        prompt, negative = prompt_text(image.get("prompt", "")), str(image.get("negative_prompt") or "")
    else:  # InvokeAI's [negative words] are A1111's negative prompt; a separate negative joins them
        prompt, negative = split_negative(prompt_text(image.get("prompt", "")))
        negative = ", ".join(part for part in (negative, str(image.get("negative_prompt") or "").strip()) if part)
    sampler = SAMPLERS_BY_ID.get(str(image.get("sampler")))
    karras = bool(sampler and sampler.options.get("use_karras_sigmas"))
    sampler_name = sampler.a1111.removesuffix(" Karras") if sampler else image.get("sampler")
    width, height = image.get("width"), image.get("height")
    size = f"{width}x{height}"
    hires: list[tuple[str, Any]] = []
    if image.get("hires_fix") and isinstance(width, int) and isinstance(height, int):
        from .request import first_pass_size  # the first pass A1111's Size names

        first = first_pass_size(width, height)
        if first is not None:
            size = f"{first[0]}x{first[1]}"
            hires = [("Hires resize", f"{width}x{height}"), ("Hires upscaler", "Latent (bicubic)")]
    variations = _variation_pairs(image.get("variations"))
    strength = None
    if image.get("type") in ("img2img", "inpaint") and image.get("strength") is not None:
        strength = image["strength"]
    elif hires:
        strength = image.get("hires_strength")
    steps = [step for step in image.get("postprocessing") or [] if isinstance(step, dict)]
    restorers = [step["type"] for step in steps if step.get("type") in ("gfpgan", "codeformer")]
    upscale = 1.0
    for step in steps:
        if step.get("type") == "esrgan":
            upscale *= float(step.get("scale") or 1)
    settings: list[tuple[str, Any]] = [
        ("Steps", image.get("steps")),
        ("Sampler", sampler_name),
        ("Schedule type", "Karras" if karras else "Automatic"),
        ("CFG scale", image.get("cfg_scale")),
        ("Seed", image.get("seed")),
        ("Size", size),
        ("Model hash", autov2_hash(metadata)),
        ("Model", metadata.get("model_id")),
        ("Variation seed", variations[-1][0] if variations else None),
        ("Variation seed strength", variations[-1][1] if variations else None),
        ("Denoising strength", strength),
        ("Clip skip", int(image["clip_skip"]) + 1 if image.get("clip_skip") else None),  # A1111 counts from 1
        *hires,
        ("Tiling", True if image.get("seamless") else None),
        ("Face restoration", {"gfpgan": "GFPGAN", "codeformer": "CodeFormer"}[restorers[-1]] if restorers else None),
        ("Postprocess upscale by", upscale if upscale != 1 else None),  # as A1111's extras tab adds it
    ]
    lines = [prompt]
    if negative:
        lines.append(f"Negative prompt: {negative}")
    lines.append(", ".join(f"{key}: {_infotext_value(value)}" for key, value in settings if value is not None))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Reading: ours, AUTOMATIC1111's and InvokeAI 3+'s, all converted to our shape


_INVOKE3_SCHEDULERS = {
    "ddim": "ddim",
    "pndm": "plms",
    "lms": "k_lms",
    "lms_k": "k_lms",
    "heun": "k_heun",
    "heun_k": "k_heun",
    "euler": "k_euler",
    "euler_k": "k_euler",
    "euler_a": "k_euler_a",
    "kdpm_2": "k_dpm_2",
    "kdpm_2_a": "k_dpm_2_a",
    "dpmpp_2s": "k_dpmpp_2",
    "dpmpp_2s_k": "k_dpmpp_2",
    "dpmpp_2m": "k_dpmpp_2m",
    "dpmpp_2m_k": "k_dpmpp_2m_karras",
    "dpmpp_sde": "k_dpmpp_sde",
    "dpmpp_sde_k": "k_dpmpp_sde",
    "unipc": "unipc",
    "unipc_k": "unipc",
}


def _with_negative(prompt: str, negative: str) -> str:
    negative = negative.strip()
    return f"{prompt} [{negative}]" if negative else prompt


def parse_a1111_parameters(text: str) -> dict[str, Any]:
    """AUTOMATIC1111's ``parameters`` chunk (prompt, ``Negative prompt:``, then ``Key: value, ...``)."""
    lines = text.strip().split("\n")
    settings_line = lines[-1] if lines and re.search(r"(^|, )Steps: ", lines[-1]) else ""
    body = lines[:-1] if settings_line else lines
    prompt_lines, negative_lines, in_negative = [], [], False
    for line in body:
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[len("Negative prompt:") :].strip()
        (negative_lines if in_negative else prompt_lines).append(line)
    settings: dict[str, str] = {}
    for m in re.finditer(r'\s*([\w ()+/-]+):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)', settings_line):
        settings[m.group(1).strip()] = m.group(2).strip().strip('"')
    sampler_name = settings.get("Sampler", "").lower()
    if settings.get("Schedule type", "").lower() == "karras" and "karras" not in sampler_name:
        sampler_name += " karras"
    width, height = 512, 512
    if "Size" in settings and "x" in settings["Size"]:
        width, height = (int(v) for v in settings["Size"].split("x", 1))
    hires = "Hires upscale" in settings or "Hires resize" in settings
    if "Hires resize" in settings and "x" in settings["Hires resize"]:  # our width/height are the output's
        width, height = (int(v) for v in settings["Hires resize"].split("x", 1))
    elif "Hires upscale" in settings:
        scale = float(settings["Hires upscale"])
        width, height = int(width * scale) // 8 * 8, int(height * scale) // 8 * 8
    image: dict[str, Any] = {
        "type": "img2img" if "Denoising strength" in settings and not hires else "txt2img",
        # Written in A1111's own syntax, so it is read back in it: (word:1.2) weighs, [a:b:0.5] edits.
        "prompt": [{"prompt": "\n".join(prompt_lines).strip(), "weight": 1.0}],
        "prompt_syntax": "a1111",
        "negative_prompt": "\n".join(negative_lines).strip(),
        "steps": int(settings.get("Steps", 20)),
        "cfg_scale": float(settings.get("CFG scale", 7.0)),
        "sampler": sampler_for_a1111(sampler_name) or "k_euler_a",
        "seed": int(settings.get("Seed", 0)),
        "width": width,
        "height": height,
        "threshold": 0,
        "perlin": 0,
        "seamless": "Tiling" in settings,
        "hires_fix": hires,
        "variations": [],
        "postprocessing": None,
    }
    if "Variation seed" in settings:
        image["variations"] = [
            {"seed": int(settings["Variation seed"]), "weight": float(settings.get("Variation seed strength", 0))}
        ]
    if "Denoising strength" in settings:
        image["hires_strength" if hires else "strength"] = float(settings["Denoising strength"])
    if "Clip skip" in settings:  # A1111 counts from 1 (no skip); ours counts skipped layers
        image["clip_skip"] = max(0, int(settings["Clip skip"]) - 1)
    return {
        "model": "stable diffusion",
        "model_id": settings.get("Model"),
        "model_hash": settings.get("Model hash"),
        "app_id": "AUTOMATIC1111/stable-diffusion-webui",
        "app_version": settings.get("Version"),
        "image": image,
    }


def convert_invokeai3(data: dict[str, Any]) -> dict[str, Any]:
    """InvokeAI 3+'s ``invokeai_metadata`` JSON into our shape."""
    model = data.get("model") or {}
    model_name = model.get("model_name") or model.get("name") if isinstance(model, dict) else str(model)
    mode = str(data.get("generation_mode", "txt2img"))
    image: dict[str, Any] = {
        "type": "img2img" if "img2img" in mode or "image_to_image" in mode else "txt2img",
        "prompt": [
            {"prompt": _with_negative(str(data.get("positive_prompt", "")), str(data.get("negative_prompt", ""))), "weight": 1.0}
        ],
        "steps": int(data.get("steps", 30)),
        "cfg_scale": float(data.get("cfg_scale", 7.5)),
        "sampler": _INVOKE3_SCHEDULERS.get(str(data.get("scheduler", "euler")), "k_euler"),
        "seed": int(data.get("seed", 0)),
        "width": int(data.get("width", 512)),
        "height": int(data.get("height", 512)),
        "threshold": 0,
        "perlin": 0,
        "seamless": bool(data.get("seamless_x") or data.get("seamless_y")),
        "hires_fix": bool(data.get("hrf_enabled", False)),
        "variations": [],
        "postprocessing": None,
    }
    if "strength" in data:
        image["strength"] = float(data["strength"])
    if "clip_skip" in data:
        image["clip_skip"] = int(data["clip_skip"])
    return {
        "model": "stable diffusion",
        "model_id": model_name,
        "model_hash": model.get("hash") if isinstance(model, dict) else None,
        "app_id": "invoke-ai/InvokeAI",
        "app_version": data.get("app_version"),
        "image": image,
    }


def metadata_from_info(info: dict[str, Any]) -> dict[str, Any]:
    """Our metadata from a PNG's text chunks, whichever program wrote them; {} when none."""
    if info.get(SD_METADATA):
        try:
            data = json.loads(info[SD_METADATA])
            return data if isinstance(data, dict) else {}
        except (ValueError, TypeError):
            return {}
    if info.get("invokeai_metadata"):
        try:
            return convert_invokeai3(json.loads(info["invokeai_metadata"]))
        except (ValueError, TypeError, AttributeError):
            return {}
    if info.get("parameters"):
        try:
            return parse_a1111_parameters(str(info["parameters"]))
        except (ValueError, TypeError):
            return {}
    return {}


def read_metadata(source: str | os.PathLike[str] | Image.Image) -> dict[str, Any]:
    if isinstance(source, Image.Image):
        return metadata_from_info(source.info)
    with Image.open(source) as im:
        return metadata_from_info(im.info)


# ---------------------------------------------------------------------------------------------
# Writing files


def png_info(image: Image.Image) -> PngImagePlugin.PngInfo:
    """The text chunks of a PNG we write: ``sd-metadata`` and ``Dream`` (InvokeAI 2.x) and, made from
    the same recipe, AUTOMATIC1111's ``parameters``, so tools of either ecosystem read the image."""
    info = PngImagePlugin.PngInfo()
    for key in (SD_METADATA, DREAM):
        if image.info.get(key):
            info.add_text(key, str(image.info[key]))
    recipe = metadata_from_info(image.info) if image.info.get(SD_METADATA) else {}
    if isinstance(recipe.get("image"), dict) and recipe["image"].get("type") != "postprocessed":
        info.add_text(A1111_PARAMETERS, infotext(recipe))
    return info


def png_bytes(image: Image.Image) -> bytes:
    """The image encoded as PNG with its recipe chunks."""
    buffer = BytesIO()
    image.save(buffer, format="PNG", pnginfo=png_info(image), compress_level=4)
    return buffer.getvalue()


def save_png_atomically(image: Image.Image, final: Path, exclusive: bool = True) -> Path:
    """Saves a PNG with its recipe so that a crash never leaves half a file under the final name."""
    return atomic_write(png_bytes(image), final, exclusive=exclusive)


class PngWriter(ResultWriter):
    """``ResultWriter`` for PIL images: encodes, then saves as ``NNNNNN.SEED.png``."""

    def save_image(self, image: Image.Image, seed: int, postprocessed: bool = False) -> Path:
        return self.save(png_bytes(image), seed, postprocessed)
