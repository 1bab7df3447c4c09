"""LoRA and textual-inversion embeddings named in a prompt, applied to one loaded pipeline.

A LoRA comes from ``<lora:name:0.8>`` (or ``withLora(name,0.8)``); an embedding from its trigger word,
the file name without extension (AUTOMATIC1111's rule; ``<name>`` works too). Files live in
``ROOT/loras`` and ``ROOT/embeddings`` and in folders scanned from other programs.

Every generation first brings the pipeline to exactly what its prompt asks for: LoRAs and embeddings
of the previous prompt that are not wanted are unloaded (the original weights come back bit for bit),
so one generation never leaks into the next, even after a cancel or an error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..conditioning import ParsedPrompt
from ..errors import ModelLoadError
from .probe import embedding_family, embedding_vectors, lora_family
from .state_dict import flatten, load_raw, load_tensors, shapes_of, unwrap_state_dict

log = logging.getLogger(__name__)

FileIndex = Callable[[], dict[str, Path]]
Folders = Callable[[str], list[Path]]  # "loras" or "embeddings" -> the folders searched
# ``<name>`` names an embedding explicitly (a bare word may just be a word, so only this form is
# reported when no such file exists).
_BRACKETED = re.compile(r"<([\w.-]+)>")


def _file_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path), st.st_size, st.st_mtime_ns


def adapter_name(name: str) -> str:
    """peft adapter names must be identifiers."""
    return "lora_" + re.sub(r"\W", "_", name)


def embedding_token(name: str) -> str:
    """The token an embedding gets in the tokenizer: bracketed so it can never clash with CLIP's vocabulary
    (and lower case, as CLIP's tokenizer lower-cases text before matching added tokens)."""
    return "<emb:" + re.sub(r"[^a-z0-9_.-]", "_", name.lower()) + ">"


def trigger_pattern(name: str) -> re.Pattern[str]:
    """The embedding's name as a whole word, optionally in angle brackets."""
    return re.compile(rf"<{re.escape(name)}>|(?<![\w<-]){re.escape(name)}(?![\w>-])")


class PromptExtras:
    """Applies the LoRAs and embeddings a prompt names to the pipeline this object belongs to."""

    def __init__(self, pipeline: Any, family: str | None, lora_files: FileIndex, embedding_files: FileIndex,
                 folders: Folders | None = None) -> None:
        self.pipeline = pipeline
        self.family = family
        self.lora_files = lora_files
        self.embedding_files = embedding_files
        self.folders = folders  # named in the warning about a LoRA or embedding that is not there
        self._loras: dict[str, tuple[str, int, int]] = {}  # adapter name -> file key
        self._embeddings: dict[str, tuple[str, int, int]] = {}  # trigger name -> file key
        self._tokens: dict[str, str] = {}  # trigger name -> token in the tokenizer

    # -- the whole step -----------------------------------------------------------------------

    def apply(self, parsed: ParsedPrompt) -> Callable[[str, Any], str]:
        """Loads what ``parsed`` asks for, unloads the rest, records what was applied in ``parsed``;
        returns the text rewrite the conditioner must use for each tokenizer."""
        self._apply_loras(parsed)
        return self._apply_embeddings(parsed)

    def clear(self) -> None:
        """Back to the plain model: no LoRA, no embedding."""
        self._set_loras({}, [])
        self._set_embeddings({})

    # -- LoRA ---------------------------------------------------------------------------------

    def _apply_loras(self, parsed: ParsedPrompt) -> None:
        files = self.lora_files() if parsed.loras else {}
        lowered = {k.lower(): v for k, v in files.items()}
        wanted: dict[str, tuple[Path, float, str]] = {}
        for name, weight in parsed.loras:
            path = files.get(name) or lowered.get(name.lower())
            if path is None:
                self._warn(parsed, f"LoRA {name!r} was not found in {self._where('loras')}; it was ignored")
                continue
            wanted[adapter_name(name)] = (path, weight, name)
        applied = self._set_loras({a: p for a, (p, _, _) in wanted.items()}, parsed.warnings)
        if applied:
            self.pipeline.set_adapters(applied, adapter_weights=[wanted[a][1] for a in applied])
        parsed.loras = [(wanted[a][2], wanted[a][1]) for a in applied]

    def _set_loras(self, wanted: dict[str, Path], warnings: list[str]) -> list[str]:
        keys = {a: _file_key(p) for a, p in wanted.items()}
        if keys == self._loras:
            return list(keys)
        if self._loras:
            self.pipeline.unload_lora_weights()  # restores the original layers exactly
            self._loras = {}
        for adapter, path in wanted.items():
            try:
                self._load_lora(adapter, path)
            except Exception as e:  # a LoRA for another model family, a broken file, ...
                msg = f"LoRA {path.stem!r} could not be applied to this model: {e}"
                log.warning(msg)
                warnings.append(msg)
                self._drop_adapter(adapter)
                continue
            self._loras[adapter] = keys[adapter]
        return list(self._loras)

    def _load_lora(self, adapter: str, path: Path) -> None:
        tensors = load_tensors(path)
        family = lora_family(shapes_of(tensors))
        if family and self.family and family != self.family:
            raise ModelLoadError(f"it was made for {family.upper()} and this model is {self.family.upper()}")
        self.pipeline.load_lora_weights(tensors, adapter_name=adapter)

    def _drop_adapter(self, adapter: str) -> None:
        try:
            listed = self.pipeline.get_list_adapters()
            if any(adapter in names for names in listed.values()):
                self.pipeline.delete_adapters(adapter)
        except Exception:  # nothing was injected
            log.debug("no adapter %s to remove", adapter)

    def _where(self, kind: str) -> str:
        folders = [str(f) for f in self.folders(kind)] if self.folders else []
        return ", ".join(folders) if folders else f"the {kind} folders"

    # -- embeddings ----------------------------------------------------------------------------

    def _apply_embeddings(self, parsed: ParsedPrompt) -> Callable[[str, Any], str]:
        texts = [t for t, _ in parsed.positive] + [parsed.negative]
        files = self.embedding_files() if any(texts) else {}
        used = {name: path for name, path in files.items() if any(trigger_pattern(name).search(t) for t in texts)}
        for name in sorted({m for t in texts for m in _BRACKETED.findall(t)}):
            if name not in files:
                self._warn(parsed, f"Embedding {name!r} was not found in {self._where('embeddings')}; "
                                   f"<{name}> was left in the prompt as text")
        self._set_embeddings(used, parsed.warnings)
        parsed.embeddings = sorted(self._embeddings)
        patterns = {name: trigger_pattern(name) for name in self._embeddings}
        tokens = dict(self._tokens)
        convert_prompt = getattr(self.pipeline, "maybe_convert_prompt", None)

        def rewrite(text: str, tokenizer: Any) -> str:
            for name, pattern in patterns.items():
                text = pattern.sub(lambda _m, tok=tokens[name]: tok, text)
            if patterns and convert_prompt is not None:
                text = convert_prompt(text, tokenizer)  # one token per vector of multi-vector embeddings
            return text

        return rewrite

    def _encoders(self) -> list[tuple[Any, Any]]:
        pairs = [(self.pipeline.tokenizer, self.pipeline.text_encoder)]
        if getattr(self.pipeline, "text_encoder_2", None) is not None:
            pairs.append((self.pipeline.tokenizer_2, self.pipeline.text_encoder_2))
        return pairs

    def _set_embeddings(self, wanted: dict[str, Path], warnings: list[str] | None = None) -> None:
        keys = {n: _file_key(p) for n, p in wanted.items()}
        if keys == self._embeddings:
            return
        if self._embeddings:
            for tokenizer, encoder in self._encoders():
                self.pipeline.unload_textual_inversion(tokenizer=tokenizer, text_encoder=encoder)
            self._embeddings, self._tokens = {}, {}
        for name, path in wanted.items():
            token = embedding_token(name)
            if token in self._tokens.values():
                token = token[:-1] + f"-{len(self._tokens)}>"
            try:
                self._load_embedding(token, path)
            except Exception as e:
                msg = f"Embedding {name!r} could not be used with this model: {e}"
                log.warning(msg)
                if warnings is not None:
                    warnings.append(msg)
                continue
            self._embeddings[name] = keys[name]
            self._tokens[name] = token

    def _load_embedding(self, token: str, path: Path) -> None:
        data = flatten(unwrap_state_dict(load_raw(path)))
        tensors = {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}
        vectors = embedding_vectors(shapes_of(tensors))
        if vectors is None:
            raise ModelLoadError("the file is not a textual-inversion embedding")
        family = embedding_family(vectors)
        encoders = self._encoders()
        if "clip_g" in vectors:
            if len(encoders) < 2:
                raise ModelLoadError("it is an SDXL embedding")
            parts = [tensors["clip_l"], tensors["clip_g"]]
        else:
            if len(encoders) > 1:
                raise ModelLoadError(f"it was made for {(family or 'SD 1.x/2.x').upper()}, not SDXL")
            known = [k for k in ("string_to_param.*", "emb_params") if k in tensors]
            parts = [tensors[known[0]] if known else next(iter(tensors.values()))]
        for (_, encoder), vecs in zip(encoders, parts):
            vecs = vecs.reshape(-1, vecs.shape[-1]) if vecs.ndim > 1 else vecs[None]
            width = encoder.get_input_embeddings().weight.shape[1]
            if vecs.shape[-1] != width:
                raise ModelLoadError(f"its vectors are {vecs.shape[-1]} wide and this model's text encoder "
                                     f"takes {width}")
        try:
            for (tokenizer, encoder), vecs in zip(encoders, parts):
                self.pipeline.load_textual_inversion(vecs.to(torch.float32), token=token, tokenizer=tokenizer,
                                                     text_encoder=encoder)
        except Exception:
            for tokenizer, encoder in encoders:  # a half-loaded SDXL embedding must not stay behind
                try:
                    self.pipeline.unload_textual_inversion(tokens=[token], tokenizer=tokenizer, text_encoder=encoder)
                except ValueError:
                    pass
            raise

    @staticmethod
    def _warn(parsed: ParsedPrompt, message: str) -> None:
        log.warning(message)
        parsed.warnings.append(message)
