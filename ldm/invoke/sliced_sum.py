"""Sliced attention's sum in chunks small enough to stay in the CPU's caches, as one torch custom op.

The sum per score row is the one diffusers' ``SlicedAttnProcessor`` does (a ``baddbmm`` with the scale,
torch's softmax, a ``bmm``); only how many rows one library call covers differs. ``SlicedAttnProcessor``
covers whole heads, up to 256 MB of scores (and as much again of probabilities) a slice at 512 px; here a
chunk holds at most ``CHUNK_BYTES`` of scores, several small heads at once or a block of one big head's
rows, and stays in the caches. What that buys is memory, about 0.4 GB at the peak of a 512 px step and
0.1 to 1 GB at 768 px; the step's time is unchanged, its softmax being bound by an exp per score, not by
memory (BENCHMARKS.md §4e). Each row's sum is the same call on the same numbers, and in bfloat16 on a
CPU without AMX the matmuls sum each row the same way whatever rows share the call, so a picture repeats
its pixels whichever way the rows were grouped (``tests/test_attention.py`` checks the two against each
other). Elsewhere (AMX, float32's MKL, a GPU) a chunk's matmul can sum its rows in another order than a
whole head's (BENCHMARKS.md §14): there the slices stay whole heads, as diffusers takes them (on a CPU
with AMX and on a GPU ``--attention auto`` is SDPA anyway). As a custom op it is one node to
``torch.compile``: the loop is not unrolled into the graph, and inductor leaves the op as it is.
"""

from typing import Optional

import torch

CHUNK_BYTES = 4 << 20  # bytes of scores a chunk holds at most (1-4 MB time alike, 8 and 16 MB slower: BENCHMARKS.md §4e)
WHOLE_HEADS_BYTES = 256 << 20  # a slice of whole heads, as --attention sliced took them before chunks


def chunks_repeat_whole_heads(device: torch.device, dtype: torch.dtype, amx: bool | None = None) -> bool:
    """Whether a sum in chunks of rows gives the pixels of whole-head slices: bfloat16 on a CPU without AMX,
    where oneDNN's matmuls sum each row alike whatever rows share the call (at 1 to 8 threads; BENCHMARKS.md
    §4e, §14). With AMX oneDNN splits a small matmul's sum another way, float32 goes through MKL, which
    picks its kernel by shape, and a GPU's libraries do too: there a slice is whole heads."""
    if device.type != "cpu" or dtype != torch.bfloat16:
        return False
    if amx is None:
        from .devices import cpu_has_amx

        amx = cpu_has_amx()
    return not amx


def chunk_plan(heads: int, queries: int, keys: int, element_size: int, in_chunks: bool = True) -> tuple[int, int]:
    """(heads, query rows) one call covers: in chunks, as many whole heads as fit, else one head's rows in
    blocks; else as many whole heads as ``WHOLE_HEADS_BYTES`` hold (at least one), as diffusers slices."""
    per_head = queries * keys * element_size
    if not in_chunks:
        return max(1, min(heads, WHOLE_HEADS_BYTES // per_head)), queries
    if per_head <= CHUNK_BYTES:
        return max(1, min(heads, CHUNK_BYTES // per_head)), queries
    return 1, max(1, CHUNK_BYTES // (keys * element_size))


# custom_op reads the signature when the module loads: Optional, the spelling every torch since 2.4 knows.
@torch.library.custom_op("invokeai::sliced_attention", mutates_args=())
def sliced_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: Optional[torch.Tensor],  # noqa: UP045
                     scale: float, upcast_softmax: bool, in_chunks: bool) -> torch.Tensor:
    """softmax(scale · q kᵀ + mask) v over (batch·heads, tokens, head size) tensors, chunk by chunk (or in
    whole-head slices). The probabilities are cast to ``value``'s dtype before the second matmul, as
    diffusers does; ``query`` and ``key`` come already upcast when the layer asks for it."""
    total, queries, _ = query.shape
    keys = key.shape[1]
    out = torch.empty(total, queries, value.shape[-1], dtype=value.dtype, device=value.device)
    if mask is not None:
        mask = mask.expand(total, queries, keys)
    key_t = key.transpose(1, 2)
    heads, rows = chunk_plan(total, queries, keys, query.element_size(), in_chunks)
    # One buffer of scores and one of probabilities for every chunk: they stay in the caches, where a new
    # pair per chunk lands wherever the allocator has room (0.9x the time of a 512 px call).
    scores = torch.empty(min(heads, total), min(rows, queries), keys, dtype=query.dtype, device=query.device)
    same_dtype = not upcast_softmax and query.dtype == value.dtype
    probs = torch.empty_like(scores) if same_dtype else None
    for h in range(0, total, heads):
        hs = slice(h, h + heads)
        for r in range(0, queries, rows):
            rs = slice(r, r + rows)
            q = query[hs, rs]
            s = scores[: q.shape[0], : q.shape[1]]
            if mask is None:
                torch.baddbmm(s, q, key_t[hs], beta=0, alpha=scale, out=s)
            else:
                torch.baddbmm(mask[hs, rs], q, key_t[hs], beta=1, alpha=scale, out=s)
            if probs is not None:
                p = probs[: q.shape[0], : q.shape[1]]
                torch.ops.aten._softmax.out(s, -1, False, out=p)
            else:  # an upcast layer: the softmax in float32, cast back as diffusers does
                p = (s.float() if upcast_softmax else s).softmax(dim=-1).to(value.dtype)
            torch.bmm(p, value[hs], out=out[hs, rs])
    return out


@sliced_attention.register_fake
def _(query, key, value, mask, scale, upcast_softmax, in_chunks):
    return query.new_empty(query.shape[0], query.shape[1], value.shape[-1], dtype=value.dtype)
