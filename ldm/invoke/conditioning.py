"""Prompts to text embeddings: ``[negative words]`` and ``a cat:1.5 a dog:0.5`` weighted sub-prompts."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import torch

log = logging.getLogger(__name__)

_NEGATIVE = re.compile(r"\[([^\[\]]*)\]")
# A sub-prompt ends at ":weight" followed by whitespace or the end; "\:" is a literal colon.
_WEIGHTED = re.compile(r"(?P<text>(?:\\:|[^:])+?)\s*:\s*(?P<weight>[-+]?\d+(?:\.\d+)?|[-+]?\.\d+)(?=\s|$)")


@dataclass
class ParsedPrompt:
    positive: list[tuple[str, float]]
    negative: str
    warnings: list[str] = field(default_factory=list)


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
    positive, negative = split_negative(prompt)
    return ParsedPrompt(split_weighted_subprompts(positive), negative)


class TextConditioner:
    """Encodes prompt text with a pipeline's CLIP tokenizer and text encoder."""

    def __init__(self, tokenizer, text_encoder, device: torch.device, dtype: torch.dtype) -> None:
        self.tokenizer = tokenizer
        self.text_encoder = text_encoder
        self.device = device
        self.dtype = dtype

    @property
    def max_length(self) -> int:
        return int(self.tokenizer.model_max_length)

    def encode(self, text: str, warnings: list[str] | None = None) -> torch.Tensor:
        ids = self.tokenizer(text, padding="max_length", max_length=self.max_length, truncation=False).input_ids
        if len(ids) > self.max_length:
            kept = self.tokenizer.decode(ids[1 : self.max_length - 1])
            dropped = self.tokenizer.decode(ids[self.max_length - 1 : -1])
            msg = f"Prompt is longer than {self.max_length} tokens; this part was ignored: {dropped!r}"
            log.warning(msg)
            if warnings is not None:
                warnings.append(msg)
            log.debug("kept: %r", kept)
            ids = ids[: self.max_length - 1] + [ids[-1]]
        tokens = torch.tensor([ids], device=self.device)
        with torch.no_grad():
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
