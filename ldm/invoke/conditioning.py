"""Prompts to text embeddings: ``[negative words]`` and ``a cat:1.5 a dog:0.5`` weighted sub-prompts,
LoRA tags (``<lora:name:0.8>``, ``withLora(name,0.8)``), clip skip, and SDXL's two text encoders."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

log = logging.getLogger(__name__)

_NEGATIVE = re.compile(r"\[([^\[\]]*)\]")
# A sub-prompt ends at ":weight" followed by whitespace or the end; "\:" is a literal colon.
_WEIGHTED = re.compile(r"(?P<text>(?:\\:|[^:])+?)\s*:\s*(?P<weight>[-+]?\d+(?:\.\d+)?|[-+]?\.\d+)(?=\s|$)")


# AUTOMATIC1111 writes <lora:name:weight> (and <lyco:...> for LyCORIS); InvokeAI writes withLora(name,weight).
_LORA_TAG = re.compile(r"<(?:lora|lyco):(?P<name>[^:<>]+?)(?::(?P<weight>[-+]?(?:\d+\.?\d*|\.\d+)))?(?::[^<>]*)?>")
_WITH_LORA = re.compile(r"withLora\(\s*(?P<name>[^,()]+?)\s*(?:,\s*(?P<weight>[-+]?(?:\d+\.?\d*|\.\d+))\s*)?\)")


@dataclass
class ParsedPrompt:
    positive: list[tuple[str, float]]
    negative: str
    warnings: list[str] = field(default_factory=list)
    loras: list[tuple[str, float]] = field(default_factory=list)
    embeddings: list[str] = field(default_factory=list)  # filled in when the model's embeddings are applied


def extract_loras(prompt: str) -> tuple[str, list[tuple[str, float]]]:
    """Removes LoRA tags from the prompt; returns the rest and [(name, weight)] (a repeated name adds up)."""
    found: dict[str, float] = {}

    def take(m: re.Match[str]) -> str:
        name = m.group("name").strip()
        weight = float(m.group("weight")) if m.group("weight") is not None else 1.0
        found[name] = found.get(name, 0.0) + weight
        return " "

    rest = _WITH_LORA.sub(take, _LORA_TAG.sub(take, prompt))
    return " ".join(rest.split()), list(found.items())


def split_negative(prompt: str) -> tuple[str, str]:
    """Bracketed words are the negative prompt; what is left is the positive one."""
    negatives = [m.strip() for m in _NEGATIVE.findall(prompt) if m.strip()]
    positive = _NEGATIVE.sub(" ", prompt)
    return " ".join(positive.split()), ", ".join(negatives)


def split_weighted_subprompts(text: str) -> list[tuple[str, float]]:
    """``a cat:1.5 a dog:0.5`` gives [("a cat", 1.5), ("a dog", 0.5)]; text without weights is one part."""
    parts: list[tuple[str, float]] = []
    pos = 0
    for m in _WEIGHTED.finditer(text):
        chunk = m.group("text").strip()
        if chunk:
            parts.append((chunk.replace("\\:", ":"), float(m.group("weight"))))
        pos = m.end()
    rest = text[pos:].strip()
    if rest:
        parts.append((rest.replace("\\:", ":"), 1.0))
    if not parts:
        return [("", 1.0)]
    if sum(w for _, w in parts) == 0:
        return [(t, 1.0) for t, _ in parts]
    return parts


def parse_prompt(prompt: str) -> ParsedPrompt:
    text, loras = extract_loras(prompt)
    positive, negative = split_negative(text)
    return ParsedPrompt(split_weighted_subprompts(positive), negative, loras=loras)


def _final_layer_norm(text_encoder) -> torch.nn.Module:
    inner = getattr(text_encoder, "text_model", text_encoder)
    return inner.final_layer_norm


def _num_layers(text_encoder) -> int:
    return int(text_encoder.config.num_hidden_layers)


def check_clip_skip(clip_skip: int, text_encoder, spare: int = 0) -> None:
    from .errors import InvalidParameterError

    most = _num_layers(text_encoder) - 1 - spare
    if isinstance(clip_skip, bool) or not isinstance(clip_skip, int) or not 0 <= clip_skip <= most:
        raise InvalidParameterError("clip_skip", f"must be a whole number from 0 to {most} for this model, got {clip_skip!r}")


def token_ids(tokenizer, text: str, warnings: list[str] | None = None) -> list[int]:
    """Token ids padded to the context length; a longer prompt is cut with a warning naming what was lost."""
    max_length = int(tokenizer.model_max_length)
    ids = tokenizer(text, padding="max_length", max_length=max_length, truncation=False).input_ids
    if len(ids) > max_length:
        kept = tokenizer.decode(ids[1 : max_length - 1])
        dropped = tokenizer.decode(ids[max_length - 1 : -1])
        msg = f"Prompt is longer than {max_length} tokens; this part was ignored: {dropped!r}"
        log.warning(msg)
        if warnings is not None and msg not in warnings:
            warnings.append(msg)
        log.debug("kept: %r", kept)
        ids = ids[: max_length - 1] + [ids[-1]]
    return ids


class TextConditioner:
    """Encodes prompt text with a pipeline's CLIP tokenizer and text encoder (SD 1.x and 2.x).

    ``clip_skip`` skips that many final layers (0: none, 1: the penultimate layer, as AUTOMATIC1111's
    "Clip skip: 2"); ``convert`` rewrites text first (multi-vector embedding tokens)."""

    def __init__(self, tokenizer, text_encoder, device: torch.device, dtype: torch.dtype, clip_skip: int = 0,
                 convert: Callable[[str], str] | None = None) -> None:
        self.tokenizer = tokenizer
        self.text_encoder = text_encoder
        self.device = device
        self.dtype = dtype
        self.clip_skip = clip_skip
        self.convert = convert or (lambda text: text)
        if clip_skip:
            check_clip_skip(clip_skip, text_encoder)

    @property
    def max_length(self) -> int:
        return int(self.tokenizer.model_max_length)

    def encode(self, text: str, warnings: list[str] | None = None) -> torch.Tensor:
        tokens = torch.tensor([token_ids(self.tokenizer, self.convert(text), warnings)], device=self.device)
        with torch.no_grad():
            if self.clip_skip:
                out = self.text_encoder(tokens, output_hidden_states=True)
                hidden = _final_layer_norm(self.text_encoder)(out.hidden_states[-(self.clip_skip + 1)])
            else:
                hidden = self.text_encoder(tokens)[0]
        return hidden.to(self.dtype)

    def conditioning(self, parsed: ParsedPrompt) -> tuple[torch.Tensor, torch.Tensor]:
        """(positive, negative) embeddings; weighted sub-prompts are blended by their normalised weights."""
        total = sum(w for _, w in parsed.positive)
        cond = None
        for text, weight in parsed.positive:
            emb = self.encode(text, parsed.warnings) * (weight / total)
            cond = emb if cond is None else cond + emb
        assert cond is not None
        uncond = self.encode(parsed.negative, parsed.warnings)
        return cond, uncond


@dataclass
class XLConditioning:
    cond: torch.Tensor
    uncond: torch.Tensor
    pooled: torch.Tensor
    uncond_pooled: torch.Tensor


class SDXLConditioner:
    """SDXL's conditioning: the penultimate hidden states of both text encoders side by side, and the
    second encoder's pooled (projected) embedding. An empty negative prompt is all zeros, as SDXL was
    trained (``force_zeros_for_empty_prompt``)."""

    def __init__(self, pipeline, device: torch.device, dtype: torch.dtype, clip_skip: int = 0,
                 convert: Callable[[str, object], str] | None = None) -> None:
        self.encoders = [(pipeline.tokenizer, pipeline.text_encoder), (pipeline.tokenizer_2, pipeline.text_encoder_2)]
        self.device = device
        self.dtype = dtype
        self.clip_skip = clip_skip
        self.convert = convert or (lambda text, tokenizer: text)
        self.zeros_for_empty = bool(getattr(pipeline.config, "force_zeros_for_empty_prompt", True))
        for _, encoder in self.encoders:
            check_clip_skip(clip_skip, encoder, spare=1)

    def encode(self, text: str, warnings: list[str] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        hidden_states = []
        pooled = None
        with torch.no_grad():
            for tokenizer, encoder in self.encoders:
                ids = token_ids(tokenizer, self.convert(text, tokenizer), warnings)
                out = encoder(torch.tensor([ids], device=self.device), output_hidden_states=True)
                hidden_states.append(out.hidden_states[-(2 + self.clip_skip)])
                pooled = out[0]  # the last encoder's projected pooled output (text_embeds)
        assert pooled is not None
        return torch.cat(hidden_states, dim=-1).to(self.dtype), pooled.to(self.dtype)

    def conditioning(self, parsed: ParsedPrompt) -> XLConditioning:
        total = sum(w for _, w in parsed.positive)
        cond = pooled = None
        for text, weight in parsed.positive:
            hidden, pool = self.encode(text, parsed.warnings)
            share = weight / total
            cond = hidden * share if cond is None else cond + hidden * share
            pooled = pool * share if pooled is None else pooled + pool * share
        assert cond is not None and pooled is not None
        if not parsed.negative.strip() and self.zeros_for_empty:
            uncond, uncond_pooled = torch.zeros_like(cond), torch.zeros_like(pooled)
        else:
            uncond, uncond_pooled = self.encode(parsed.negative, parsed.warnings)
        return XLConditioning(cond, uncond, pooled, uncond_pooled)
