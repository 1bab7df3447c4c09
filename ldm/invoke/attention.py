"""``--attention``: how the UNet's (and a ControlNet's) attention runs, SDPA's fused kernel or sliced attention.

On the CPU, torch's fused SDPA kernel spends most of a 512 px SD-1.5 step's attention on its score pass
(an exp per score at head sizes of 40 to 160). diffusers' ``SlicedAttnProcessor`` does the same sum as
three library calls per slice of heads, a matmul, torch's vectorised softmax and a matmul, and took
that step from 4.80 s to 3.32 s on an AVX-512 CPU (BENCHMARKS.md §4d). It holds a slice's scores in
memory, so a call whose one head's scores would pass ``SDPA_ABOVE`` (a square picture over 1,024 px in
bfloat16, over about 860 px in float32) runs through SDPA, whose memory is flat. Both repeat their
pixels exactly, but they round differently: the recipe records which one made a picture, and an old
recipe, which has no ``attention``, was made with SDPA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

ATTENTIONS = ("auto", "sdpa", "sliced")
SLICE_BUDGET = 256 << 20  # bytes of scores one slice of heads holds at most
SDPA_ABOVE = 512 << 20  # bytes of one head's scores beyond which a call goes to SDPA


def choose_attention(name: str, device: torch.device, compile: bool = False) -> str:
    """``auto``: sliced on the CPU eager path, SDPA on a GPU (its fused kernels are the fast ones there) and
    under ``--compile`` (inductor compiles SDPA as one kernel; its cached graphs stay as they were)."""
    if name not in ATTENTIONS:
        raise ValueError(f"attention must be one of {', '.join(ATTENTIONS)}, not {name!r}")
    if name != "auto":
        return name
    return "sliced" if device.type == "cpu" and not compile else "sdpa"


class SlicedOrSdpa:
    """A diffusers attention processor: each call sliced (as many heads at a time as ``SLICE_BUDGET``
    allows), or through SDPA when one head's scores would pass ``SDPA_ABOVE``. The choice depends on
    the call's shapes only, so a recipe picks the same path every time."""

    def __init__(self) -> None:
        from diffusers.models.attention_processor import AttnProcessor2_0, SlicedAttnProcessor

        self.sdpa = AttnProcessor2_0()
        self.sliced_class = SlicedAttnProcessor  # imported once, not on every attention call
        self.sliced: dict[int, Any] = {}

    def __call__(self, attn: Any, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None) -> torch.Tensor:
        queries = hidden_states.shape[-2] * hidden_states.shape[-1] if hidden_states.ndim == 4 \
            else hidden_states.shape[1]
        keys = encoder_hidden_states.shape[1] if encoder_hidden_states is not None else queries
        per_head = queries * keys * hidden_states.element_size()
        if per_head > SDPA_ABOVE or temb is not None:  # (a spatial norm's temb: sliced has none)
            return self.sdpa(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        size = max(1, min(hidden_states.shape[0] * attn.heads, SLICE_BUDGET // per_head))
        if size not in self.sliced:
            self.sliced[size] = self.sliced_class(size)
        return self.sliced[size](attn, hidden_states, encoder_hidden_states, attention_mask)


def use_attention(module: torch.nn.Module, attention: str) -> None:
    """Sets every attention layer of a UNet or a ControlNet to run ``attention`` (sdpa or sliced); a model
    without attention layers (a T2I-Adapter) is left as it is."""
    from diffusers.models.attention_processor import AttnProcessor2_0

    if hasattr(module, "set_attn_processor"):
        module.set_attn_processor(SlicedOrSdpa() if attention == "sliced" else AttnProcessor2_0())
