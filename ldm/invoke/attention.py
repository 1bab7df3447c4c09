"""``--attention``: how the UNet's (and a ControlNet's) attention runs, SDPA's fused kernel or sliced attention.

On the CPU, torch's fused SDPA kernel spends most of a 512 px SD-1.5 step's attention on its score pass
(an exp per score at head sizes of 40 to 160). Sliced attention does the same sum as diffusers'
``SlicedAttnProcessor``, three library calls (a matmul, torch's vectorised softmax, a matmul), which took
that step from 4.80 s to 3.32 s on an AVX-512 CPU without AMX (BENCHMARKS.md §4d); ``sliced_sum`` runs those
calls on chunks of scores small enough to stay in the caches, with the same pixels (§4e). On a CPU with AMX
it is the other way round: SDPA's kernel makes the step 0.81× sliced's time (§14), so ``auto`` keeps SDPA
there. A call whose one head's scores would pass ``SDPA_ABOVE`` (a square picture over 1,024 px in
bfloat16, over about 860 px in float32) runs through SDPA, as it did when a slice held whole heads, so
that those recipes still repeat. Both repeat their pixels exactly, but they round differently: the recipe
records which one made a picture, and an old recipe, which has no ``attention``, was made with SDPA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

ATTENTIONS = ("auto", "sdpa", "sliced")
SDPA_ABOVE = 512 << 20  # bytes of one head's scores beyond which a call goes to SDPA


def choose_attention(name: str, device: torch.device, amx: bool | None = None) -> str:
    """``auto``: sliced on a CPU without AMX, eager or under ``--compile`` (inductor keeps the sliced
    matmuls and softmax as they are and fuses the work around them: BENCHMARKS.md §11); SDPA on a CPU with
    AMX, whose tiles run SDPA's kernel faster than the sliced matmuls (BENCHMARKS.md §14), and on a GPU,
    whose fused kernels are the fast ones there. ``amx``: whether the CPU has AMX (read from it if None)."""
    if name not in ATTENTIONS:
        raise ValueError(f"attention must be one of {', '.join(ATTENTIONS)}, not {name!r}")
    if name != "auto":
        return name
    if device.type != "cpu":
        return "sdpa"
    if amx is None:
        from .devices import cpu_has_amx

        amx = cpu_has_amx()
    return "sdpa" if amx else "sliced"


class SlicedOrSdpa:
    """A diffusers attention processor: each call sliced (``sliced_sum``: diffusers' sliced sum, in chunks
    that stay in the caches where they give the same pixels as whole heads), or through SDPA when one head's
    scores would pass ``SDPA_ABOVE``. The choice depends on the call's shapes and the machine only, so a
    recipe picks the same path every time. ``in_chunks`` forces chunks or whole heads (the benchmarks)."""

    def __init__(self, in_chunks: bool | None = None) -> None:
        from diffusers.models.attention_processor import AttnProcessor2_0

        from .sliced_sum import chunks_repeat_whole_heads, sliced_attention

        self.sdpa = AttnProcessor2_0()
        self.sum = sliced_attention  # imported once, not on every attention call
        self.in_chunks = in_chunks
        self.chunks_here = chunks_repeat_whole_heads

    def __call__(self, attn: Any, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None,
                 attention_mask: torch.Tensor | None = None, temb: torch.Tensor | None = None) -> torch.Tensor:
        queries = hidden_states.shape[-2] * hidden_states.shape[-1] if hidden_states.ndim == 4 \
            else hidden_states.shape[1]
        keys = encoder_hidden_states.shape[1] if encoder_hidden_states is not None else queries
        per_head = queries * keys * hidden_states.element_size()
        if per_head > SDPA_ABOVE or temb is not None:  # (a spatial norm's temb: sliced has none)
            return self.sdpa(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        return self.sliced(attn, hidden_states, encoder_hidden_states, attention_mask)

    def sliced(self, attn: Any, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor | None,
               attention_mask: torch.Tensor | None) -> torch.Tensor:
        """The layer's work around the sum, step for step as diffusers' ``SlicedAttnProcessor`` does it."""
        residual, spatial = hidden_states, hidden_states.ndim == 4
        if spatial:
            batch, channels, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch, channels, height * width).transpose(1, 2)
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        attention_mask = attn.prepare_attention_mask(attention_mask, context.shape[1], context.shape[0])
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        query = attn.head_to_batch_dim(attn.to_q(hidden_states))
        if encoder_hidden_states is None:
            context = hidden_states  # after the group norm, as diffusers takes it
        elif attn.norm_cross:
            context = attn.norm_encoder_hidden_states(context)
        key, value = attn.head_to_batch_dim(attn.to_k(context)), attn.head_to_batch_dim(attn.to_v(context))
        if attn.upcast_attention:
            query, key = query.float(), key.float()
        in_chunks = self.chunks_here(query.device, query.dtype) if self.in_chunks is None else self.in_chunks
        out = attn.batch_to_head_dim(self.sum(query, key, value, attention_mask, attn.scale, attn.upcast_softmax,
                                              in_chunks))
        out = attn.to_out[1](attn.to_out[0](out))  # projection, dropout
        if spatial:
            out = out.transpose(-1, -2).reshape(batch, channels, height, width)
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor


def use_attention(module: torch.nn.Module, attention: str) -> None:
    """Sets every attention layer of a UNet or a ControlNet to run ``attention`` (sdpa or sliced); a model
    without attention layers (a T2I-Adapter) is left as it is."""
    from diffusers.models.attention_processor import AttnProcessor2_0

    if hasattr(module, "set_attn_processor"):
        module.set_attn_processor(SlicedOrSdpa() if attention == "sliced" else AttnProcessor2_0())
