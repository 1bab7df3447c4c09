"""AUTOMATIC1111's prompt syntax: emphasis, escapes, BREAK, prompt editing and alternation, turned into
a per-step schedule of weighted text chunks. Plain text in, plain data out: no torch here.

Two stages, as A1111 documents them:

* **Scheduling** (``prompt_schedule``): ``[from:to:when]``, ``[to:when]``, ``[from::when]`` and
  ``[a|b|c]`` are resolved for each step, giving the text in force until a step.
  ``when`` below 1 is a fraction of the steps, from 1 on a step number.
* **Attention** (``parse_attention``): the text of one step into ``(text, weight)`` pieces:
  ``(x)`` ×1.1, ``[x]`` ÷1.1, ``(x:1.3)`` ×1.3, nested brackets multiply, ``\\(`` ``\\)`` ``\\[``
  ``\\]`` ``\\:`` ``\\\\`` are literal characters, and ``BREAK`` starts a new chunk.

``schedule(prompt, steps)`` does both: ``[(until_step, chunks)]`` where ``chunks`` is a list of
``[(text, weight)]`` lists, one per BREAK-separated chunk. Step numbers count from 1; an entry is in
force for every step up to and including its ``until_step``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EMPHASIS = 1.1  # what one pair of round brackets multiplies by (square ones divide by it)
BREAK = "BREAK"
_BREAK_SPLIT = re.compile(r"\s*\bBREAK\b\s*")
_WHEN = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*$")
# One token of the attention stage: an escape, a bracket, ":weight)", a lone colon, or a run of plain text.
_ATTENTION_TOKEN = re.compile(r"\\.?|[()\[\]]|:\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*\)|:|[^\\()\[\]:]+", re.S)
_PLAIN = re.compile(r"[^\\()\[\]:|]+")

Piece = tuple[str, float]
Chunks = list[list[Piece]]


# ---------------------------------------------------------------------------------------------
# Stage 1: prompt editing and alternation


@dataclass
class _Edit:
    before: list
    after: list
    when: float


@dataclass
class _Alternation:
    options: list[list]


class _Unbalanced(Exception):
    """The prompt's brackets do not pair up: it is then taken as written, for every step."""


class _ScheduleParser:
    """Reads a prompt into a tree: strings (kept as written, escapes included, since the attention stage
    reads them), ``_Edit`` and ``_Alternation`` nodes. Square brackets that are neither stay text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> list:
        nodes = self._sequence(stops="", top=True)
        if self.pos != len(self.text):  # pragma: no cover - the top level stops only at the end
            raise _Unbalanced
        return nodes

    def _sequence(self, stops: str, top: bool = False) -> list:
        nodes: list = []
        text = self.text

        def add(piece: str) -> None:
            if nodes and isinstance(nodes[-1], str):
                nodes[-1] += piece
            else:
                nodes.append(piece)

        while self.pos < len(text):
            c = text[self.pos]
            if c in stops:
                break
            plain = _PLAIN.match(text, self.pos)
            if plain is not None:
                add(plain.group(0))
                self.pos = plain.end()
            elif c == "\\":
                add(text[self.pos:self.pos + 2])
                self.pos += 2
            elif c == "(":
                self.pos += 1
                inner = self._sequence(stops=")")
                if self.pos >= len(text):
                    raise _Unbalanced
                self.pos += 1
                add("(")
                for node in inner:
                    if isinstance(node, str):
                        add(node)
                    else:
                        nodes.append(node)
                add(")")
            elif c == "[":
                self.pos += 1
                nodes.append(self._square())
            elif c in ")]" and not top:
                raise _Unbalanced  # a closing bracket of the wrong kind
            else:
                add(c)
                self.pos += 1
        return nodes

    def _square(self) -> object:
        """After ``[``: an edit, an alternation, or plain (de-emphasised) text kept as written."""
        parts: list[list] = []
        separators: list[str] = []
        while True:
            parts.append(self._sequence(stops=":|]"))
            if self.pos >= len(self.text):
                raise _Unbalanced
            c = self.text[self.pos]
            self.pos += 1
            if c == "]":
                break
            separators.append(c)
        if separators and all(s == "|" for s in separators):
            return _Alternation(parts)
        if separators and all(s == ":" for s in separators) and len(parts) in (2, 3):
            when = _WHEN.match(_flat_text(parts[-1]))
            if when is not None:
                before, after = (parts[0], parts[1]) if len(parts) == 3 else ([], parts[0])
                return _Edit(before, after, float(when.group(1)))
        out: list = ["["]
        for part, sep in zip(parts, separators + ["]"]):
            out += [*part, sep]
        return out


def _flat_text(nodes: list) -> str:
    return "".join(n if isinstance(n, str) else "\0" for n in nodes)


def _edit_step(when: float, steps: int) -> int:
    return min(steps, int(when * steps if when < 1 else when))


def _switch_steps(nodes: list, steps: int, found: set[int]) -> None:
    """Every step at which some part of the prompt changes (all branches, chosen or not)."""
    for node in nodes:
        if isinstance(node, _Edit):
            step = _edit_step(node.when, steps)
            if step >= 1:
                found.add(step)
            _switch_steps(node.before, steps, found)
            _switch_steps(node.after, steps, found)
        elif isinstance(node, _Alternation):
            found.update(range(1, steps + 1))
            for option in node.options:
                _switch_steps(option, steps, found)
        elif isinstance(node, list):
            _switch_steps(node, steps, found)


def _text_at(nodes: list, step: int, steps: int) -> str:
    out = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, _Edit):
            chosen = node.before if step <= _edit_step(node.when, steps) else node.after
            out.append(_text_at(chosen, step, steps))
        elif isinstance(node, _Alternation):
            out.append(_text_at(node.options[(step - 1) % len(node.options)], step, steps))
        else:
            out.append(_text_at(node, step, steps))
    return "".join(out)


def prompt_schedule(prompt: str, steps: int) -> list[tuple[int, str]]:
    """``[(until_step, text)]`` for a run of ``steps`` steps; consecutive steps with the same text share
    one entry. A prompt whose brackets do not pair up is taken as written for every step."""
    steps = max(1, int(steps))
    try:
        tree = _ScheduleParser(prompt).parse()
    except _Unbalanced:
        return [(steps, prompt)]
    found = {steps}
    _switch_steps(tree, steps, found)
    out: list[tuple[int, str]] = []
    for step in sorted(found):
        text = _text_at(tree, step, steps)
        if out and out[-1][1] == text:
            out[-1] = (step, text)
        else:
            out.append((step, text))
    return out


# ---------------------------------------------------------------------------------------------
# Stage 2: attention (emphasis) and BREAK


def parse_attention(text: str) -> list[Piece]:
    """``(text, weight)`` pieces, neighbours of equal weight merged; a BREAK is the piece
    ``("BREAK", -1.0)``. Brackets left open at the end apply to the rest of the text; a closing
    bracket with nothing to close is text."""
    pieces: list[list] = []
    round_open: list[int] = []
    square_open: list[int] = []

    def multiply(start: int, factor: float) -> None:
        for piece in pieces[start:]:
            if piece[1] >= 0:
                piece[1] *= factor

    def add_text(chunk: str) -> None:
        for i, part in enumerate(_BREAK_SPLIT.split(chunk)):
            if i > 0:
                pieces.append([BREAK, -1.0])
            if part:
                pieces.append([part, 1.0])

    for match in _ATTENTION_TOKEN.finditer(text):
        token, weight = match.group(0), match.group(1)
        if token.startswith("\\"):
            pieces.append([token[1:] or "\\", 1.0])
        elif weight is not None and round_open:
            multiply(round_open.pop(), float(weight))
        elif token == "(":
            round_open.append(len(pieces))
        elif token == "[":
            square_open.append(len(pieces))
        elif token == ")" and round_open:
            multiply(round_open.pop(), EMPHASIS)
        elif token == "]" and square_open:
            multiply(square_open.pop(), 1 / EMPHASIS)
        else:
            add_text(token)
    for start in round_open:
        multiply(start, EMPHASIS)
    for start in square_open:
        multiply(start, 1 / EMPHASIS)

    merged: list[Piece] = []
    for piece_text, weight in pieces:
        if merged and merged[-1][1] == weight and weight >= 0:
            merged[-1] = (merged[-1][0] + piece_text, weight)
        else:
            merged.append((piece_text, weight))
    return merged or [("", 1.0)]


def chunks_of(text: str) -> Chunks:
    """The text's pieces, split at each BREAK into chunks (a chunk may be empty)."""
    chunks: Chunks = [[]]
    for piece_text, weight in parse_attention(text):
        if weight < 0:
            chunks.append([])
        else:
            chunks[-1].append((piece_text, weight))
    return chunks


def schedule(prompt: str, steps: int) -> list[tuple[int, Chunks]]:
    """The prompt's conditioning schedule for ``steps`` steps: ``[(until_step, chunks)]``."""
    read: dict[str, Chunks] = {}
    out = []
    for until, text in prompt_schedule(prompt, steps):
        if text not in read:
            read[text] = chunks_of(text)
        out.append((until, read[text]))
    return out


__all__ = ["BREAK", "EMPHASIS", "Chunks", "Piece", "chunks_of", "parse_attention", "prompt_schedule", "schedule"]
