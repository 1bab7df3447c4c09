"""InvokeAI's prompt text: ``[negative words]`` and ``a cat:1.5 a dog:0.5`` weighted sub-prompts.
Plain text in, plain data out (no torch), so metadata and infotext can read prompts without the engine."""

from __future__ import annotations

import re

_NEGATIVE = re.compile(r"\[([^\[\]]*)\]")
# A sub-prompt ends at ":weight" followed by whitespace or the end; "\:" is a literal colon.
_WEIGHTED = re.compile(r"(?P<text>(?:\\:|[^:])+?)\s*:\s*(?P<weight>[-+]?\d+(?:\.\d+)?|[-+]?\.\d+)(?=\s|$)")


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
