"""Prompts to text embeddings: ``[negative words]`` and ``a cat:1.5 a dog:0.5`` weighted sub-prompts,
LoRA tags (``<lora:name:0.8>``, ``withLora(name,0.8)``), clip skip, and SDXL's two text encoders; or, with
``prompt_syntax="a1111"``, AUTOMATIC1111's token weights, 75-token chunks and per-step schedules."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from .invoke_syntax import split_negative, split_weighted_subprompts
from .prompt_syntax import Chunks, schedule

log = logging.getLogger(__name__)

# AUTOMATIC1111 writes <lora:name:weight> (and <lyco:...> for LyCORIS); InvokeAI writes withLora(name,weight).
_LORA_TAG = re.compile(r"<(?:lora|lyco):(?P<name>[^:<>]+?)(?::(?P<weight>[-+]?(?:\d+\.?\d*|\.\d+)))?(?::[^<>]*)?>")
_WITH_LORA = re.compile(r"withLora\(\s*(?P<name>[^,()]+?)\s*(?:,\s*(?P<weight>[-+]?(?:\d+\.?\d*|\.\d+))\s*)?\)")


@dataclass
class ParsedPrompt:
    """A prompt read in its syntax. With ``invoke`` syntax ``positive`` holds the weighted sub-prompts;
    with ``a1111`` it holds the one prompt as written (its schedule depends on the steps, see
    ``a1111_phases``) and ``negative`` is the negative prompt, in the same syntax."""

    positive: list[tuple[str, float]]
    negative: str
    warnings: list[str] = field(default_factory=list)
    loras: list[tuple[str, float]] = field(default_factory=list)
    embeddings: list[str] = field(default_factory=list)  # filled in when the model's embeddings are applied
    syntax: str = "invoke"


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


def parse_prompt(prompt: str, syntax: str = "invoke", negative: str = "") -> ParsedPrompt:
    """The prompt in ``syntax`` (``invoke`` or ``a1111``); ``negative`` is a separate negative prompt
    (with ``invoke`` syntax it joins the prompt's ``[bracketed]`` words)."""
    text, loras = extract_loras(prompt)
    if syntax == "a1111":
        return ParsedPrompt([(text, 1.0)], negative.strip(), loras=loras, syntax="a1111")
    positive, bracketed = split_negative(text)
    negatives = ", ".join(n for n in (bracketed, negative.strip()) if n)
    return ParsedPrompt(split_weighted_subprompts(positive), negatives, loras=loras)


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
        return self.encode_ids(token_ids(self.tokenizer, self.convert(text), warnings))

    def encode_ids(self, ids: list[int]) -> torch.Tensor:
        tokens = torch.tensor([ids], device=self.device)
        with torch.no_grad():
            if self.clip_skip:
                out = self.text_encoder(tokens, output_hidden_states=True)
                hidden = _final_layer_norm(self.text_encoder)(out.hidden_states[-(self.clip_skip + 1)])
            else:
                hidden = self.text_encoder(tokens)[0]
        return hidden.to(self.dtype)

    def embed(self, chunks: Chunks) -> tuple[torch.Tensor, None]:
        """A1111's encoding of weighted chunks: each 77-token window encoded, weighted, joined."""
        windows = weighted_windows(self.tokenizer, chunks, lambda text: self.convert(text))
        return torch.cat([emphasised(self.encode_ids(ids), weights) for ids, weights in windows], dim=1), None

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

    def embed(self, chunks: Chunks) -> tuple[torch.Tensor, torch.Tensor]:
        """A1111's encoding for SDXL: each encoder's windows weighted on their own and joined side by
        side; the pooled embedding is the second encoder's, of the first window."""
        per_encoder: list[list[torch.Tensor]] = []
        pooled = None
        with torch.no_grad():
            for tokenizer, encoder in self.encoders:
                windows = weighted_windows(tokenizer, chunks, lambda text, tok=tokenizer: self.convert(text, tok))
                hidden = []
                for n, (ids, weights) in enumerate(windows):
                    out = encoder(torch.tensor([ids], device=self.device), output_hidden_states=True)
                    hidden.append(emphasised(out.hidden_states[-(2 + self.clip_skip)], weights))
                    if n == 0:
                        pooled = out[0]
                per_encoder.append(hidden)
        assert pooled is not None
        count = max(len(h) for h in per_encoder)
        for hidden in per_encoder:  # the two tokenizers may cut a long prompt differently
            hidden += [hidden[-1] * 0] * (count - len(hidden))
        joined = [torch.cat([h[n] for h in per_encoder], dim=-1) for n in range(count)]
        return torch.cat(joined, dim=1).to(self.dtype), pooled.to(self.dtype)

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


# ---------------------------------------------------------------------------------------------
# AUTOMATIC1111's encoding: weighted tokens in 75-token chunks, per-step phases

COMMA_BACKTRACK = 20  # a full chunk moves its words after a comma this close to its end into the next one


def weighted_windows(tokenizer, chunks: Chunks, convert: Callable[[str], str]) -> list[tuple[list[int], list[float]]]:
    """The token windows a prompt's chunks fill: each is BOS, up to 75 tokens, EOS, padding (77 in all),
    with a weight per token. A chunk longer than 75 tokens goes on in the next window (cut after its
    last comma when that is near the end); BREAK always starts a new window."""
    size = int(tokenizer.model_max_length) - 2
    bos, eos = int(tokenizer.bos_token_id), int(tokenizer.eos_token_id)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    comma = tokenizer(",", add_special_tokens=False).input_ids[-1]
    windows: list[tuple[list[int], list[float]]] = []

    def close(ids: list[int], weights: list[float]) -> None:
        fill = size - len(ids)
        windows.append(([bos, *ids, eos] + [pad] * fill, [1.0, *weights, 1.0] + [1.0] * fill))

    if len(chunks) > 1 and not chunks[-1]:
        chunks = chunks[:-1]  # a BREAK at the very end adds nothing
    for chunk in chunks:
        ids: list[int] = []
        weights: list[float] = []
        for text, weight in chunk:
            for token in tokenizer(convert(text), add_special_tokens=False, verbose=False).input_ids:
                if len(ids) == size:
                    cut = max((i for i, t in enumerate(ids) if t == comma), default=-1) + 1
                    keep = cut if cut and size - cut < COMMA_BACKTRACK else size
                    close(ids[:keep], weights[:keep])
                    ids, weights = ids[keep:], weights[keep:]
                ids.append(int(token))
                weights.append(float(weight))
        close(ids, weights)
    return windows


def emphasised(hidden: torch.Tensor, weights: list[float]) -> torch.Tensor:
    """Each token's embedding times its weight, the whole then scaled back to its original mean."""
    if all(w == 1.0 for w in weights):
        return hidden
    original = hidden.float().mean()
    scaled = hidden.float() * torch.tensor(weights, device=hidden.device).reshape(1, -1, 1)
    return (scaled * (original / scaled.mean())).to(hidden.dtype)


@dataclass
class Phase:
    """The embeddings in force up to ``until_step`` (counted from 1) of a run."""

    until_step: int
    cond: torch.Tensor
    uncond: torch.Tensor
    pooled: torch.Tensor | None = None
    uncond_pooled: torch.Tensor | None = None


def _same_length(a: torch.Tensor, b: torch.Tensor, filler: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pads the shorter of two embeddings with ``filler`` windows (an empty prompt's) to the other's length."""
    while a.shape[1] < b.shape[1]:
        a = torch.cat([a, filler], dim=1)
    while b.shape[1] < a.shape[1]:
        b = torch.cat([b, filler], dim=1)
    return a, b


def a1111_phases(conditioner: TextConditioner | SDXLConditioner, parsed: ParsedPrompt, steps: int) -> list[Phase]:
    """The prompt's and the negative prompt's schedules for ``steps`` steps, encoded: one phase per span
    of steps over which neither changes. Each text is encoded once."""
    positive, negative = schedule(parsed.positive[0][0], steps), schedule(parsed.negative, steps)
    zero_negative = isinstance(conditioner, SDXLConditioner) and conditioner.zeros_for_empty and \
        not parsed.negative.strip()
    cache: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}

    def encoded(chunks: Chunks) -> tuple[torch.Tensor, torch.Tensor | None]:
        key = repr(chunks)
        if key not in cache:
            cache[key] = conditioner.embed(chunks)
        return cache[key]

    filler = encoded([[]])[0]
    phases: list[Phase] = []
    for until in sorted({u for u, _ in positive} | {u for u, _ in negative}):
        cond, pooled = encoded(next(c for u, c in positive if until <= u))
        if zero_negative:
            uncond, uncond_pooled = torch.zeros_like(cond), None if pooled is None else torch.zeros_like(pooled)
        else:
            uncond, uncond_pooled = encoded(next(c for u, c in negative if until <= u))
            cond, uncond = _same_length(cond, uncond, filler)
        phases.append(Phase(until, cond, uncond, pooled, uncond_pooled))
    return phases
