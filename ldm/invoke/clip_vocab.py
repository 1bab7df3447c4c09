"""Builds CLIP's real BPE tokenizer files offline from the vocabulary open_clip ships.

open_clip carries OpenAI's ``bpe_simple_vocab_16e6.txt.gz`` (the merges CLIP was trained with);
from it we derive the ``vocab.json`` and ``merges.txt`` that transformers' CLIPTokenizer reads,
exactly as CLIP's own SimpleTokenizer builds its encoder, so token ids match the published models.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from functools import lru_cache
from pathlib import Path

_MERGES_USED = 49152 - 256 - 2


def _bytes_to_unicode() -> dict[int, str]:
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return dict(zip(printable, [chr(c) for c in chars]))


@lru_cache(maxsize=1)
def _merges() -> list[str]:
    # Locate open_clip's file without importing open_clip (which would import timm and take seconds).
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("open_clip_torch is needed for CLIP's tokenizer vocabulary")
    source = Path(next(iter(spec.submodule_search_locations))) / "bpe_simple_vocab_16e6.txt.gz"
    lines = gzip.decompress(source.read_bytes()).decode("utf-8").split("\n")
    return lines[1 : _MERGES_USED + 1]


def write_clip_tokenizer_files(folder: Path) -> tuple[Path, Path]:
    """Writes ``vocab.json`` and ``merges.txt`` (49,408 tokens) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    merges = _merges()
    symbols = list(_bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols]
    vocab += ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    vocab_path = folder / "vocab.json"
    merges_path = folder / "merges.txt"
    vocab_path.write_text(json.dumps({tok: i for i, tok in enumerate(vocab)}, ensure_ascii=False), "utf-8")
    merges_path.write_text("#version: 0.2\n" + "\n".join(merges) + "\n", "utf-8")
    return vocab_path, merges_path
