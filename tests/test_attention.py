"""``--attention``: sliced attention by default on a CPU without AMX (SDPA with AMX), recorded in the recipe,
the same sum as SDPA within rounding, summed in chunks that repeat diffusers' whole-head slices bit for
bit and hold one chunk of scores at a time (whole heads where chunks would not), SDPA for calls too big to
slice and on a GPU, a ControlNet's attention as the UNet's, and the flag on every entry point."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers.models.attention_processor import Attention, AttnProcessor2_0, SlicedAttnProcessor
from PIL import Image

from invokeai_gui.main import build_parser, server_config_from_args
from ldm.invoke import attention as attention_mod
from ldm.invoke import sliced_sum
from ldm.invoke.attention import SlicedOrSdpa, choose_attention
from ldm.invoke.devices import cpu_has_amx, cpu_has_native_bf16
from ldm.invoke.generate import Generate
from ldm.invoke.metadata import read_metadata
from ldm.invoke.request import ControlUnit, GenerationRequest, ImageRef
from ldm.invoke.sliced_sum import CHUNK_BYTES, chunk_plan, chunks_repeat_whole_heads
from tests.support.tiny_control import build_control_root

CPU = torch.device("cpu")


def test_auto_slices_on_a_cpu_without_amx_and_keeps_sdpa_with_amx_and_on_a_gpu():
    assert choose_attention("auto", CPU, amx=False) == "sliced"
    assert choose_attention("auto", CPU, amx=True) == "sdpa"
    assert choose_attention("auto", CPU) == ("sdpa" if cpu_has_amx() else "sliced")  # this machine's
    assert choose_attention("auto", torch.device("cuda")) == "sdpa"
    assert choose_attention("sliced", CPU, amx=True) == "sliced"
    assert choose_attention("sdpa", CPU) == "sdpa"
    with pytest.raises(ValueError, match="attention must be one of auto, sdpa, sliced, not 'flash'"):
        choose_attention("flash", CPU)


def _layer(cross: int | None = None) -> Attention:
    torch.manual_seed(0)
    return Attention(query_dim=64, cross_attention_dim=cross, heads=4, dim_head=16).eval()


@pytest.mark.parametrize("cross", [None, 24])
def test_sliced_gives_sdpa_s_sum_within_rounding(cross):
    layer = _layer(cross)
    x = torch.randn(2, 300, 64)
    context = torch.randn(2, 77, 24) if cross else None
    with torch.inference_mode():
        want = AttnProcessor2_0()(layer, x, context)
        got = SlicedOrSdpa()(layer, x, context)
    assert not torch.equal(got, want)  # a different sum order: which one made a picture matters
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


def test_chunks_hold_whole_heads_or_blocks_of_one_head_s_rows_within_the_budget():
    mb = 1 << 20
    assert CHUNK_BYTES == 4 * mb
    assert chunk_plan(16, 4096, 4096, 2) == (1, 512)  # 512 px SD-1.5 self-attention, bf16: 4 MB of rows
    assert chunk_plan(16, 4096, 77, 2) == (6, 4096)  # its cross-attention: six whole heads at a time
    assert chunk_plan(16, 1024, 1024, 4) == (1, 1024)  # exactly one head
    assert chunk_plan(3, 10, 10, 4) == (3, 10)  # never more heads than there are
    assert chunk_plan(1, 10, 3_000_000, 2) == (1, 1)  # at least one row
    # Where chunks could round differently (AMX, float32, a GPU): whole heads, as diffusers' 256 MB slices.
    assert chunk_plan(16, 4096, 4096, 2, in_chunks=False) == (8, 4096)  # 512 px: eight heads a slice
    assert chunk_plan(16, 9216, 9216, 2, in_chunks=False) == (1, 9216)  # 768 px: one head, over budget
    assert chunk_plan(16, 4096, 77, 2, in_chunks=False) == (16, 4096)
    assert chunks_repeat_whole_heads(CPU, torch.bfloat16, amx=False)
    assert not chunks_repeat_whole_heads(CPU, torch.bfloat16, amx=True)
    assert not chunks_repeat_whole_heads(CPU, torch.float32, amx=False)
    assert not chunks_repeat_whole_heads(torch.device("cuda"), torch.bfloat16, amx=False)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("shape", ["self", "cross", "mask", "upcast", "spatial"])
def test_chunked_sums_repeat_diffusers_whole_head_slices_bit_for_bit(monkeypatch, dtype, shape):
    """Pictures made when a slice held whole heads (diffusers' SlicedAttnProcessor) keep their pixels: the
    chunks, here small enough that rows and heads are split unevenly, give every bit the same."""
    torch.manual_seed(0)
    layer = Attention(query_dim=64, cross_attention_dim=24 if shape == "cross" else None, heads=4, dim_head=16,
                      upcast_attention=shape == "upcast", upcast_softmax=shape == "upcast",
                      norm_num_groups=8 if shape == "spatial" else None,
                      residual_connection=shape == "spatial").eval().to(dtype)
    x = torch.randn(2, 64, 10, 30) if shape == "spatial" else torch.randn(2, 300, 64)
    context = torch.randn(2, 77, 24) if shape == "cross" else None
    mask = (torch.rand(2, 1, 300) > 0.2).float().mul(-1e4) if shape == "mask" else None
    x, context, mask = (t if t is None else t.to(dtype) for t in (x, context, mask))
    monkeypatch.setattr(sliced_sum, "CHUNK_BYTES", 70 * 300 * x.element_size())  # 70 of 300 rows at a time
    with torch.inference_mode():
        want = SlicedAttnProcessor(3)(layer, x, context, mask)  # 3 of the 8 (batch x heads) at a time
        got = SlicedOrSdpa(in_chunks=True)(layer, x, context, mask)
    assert torch.equal(got, want)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_a_512_px_self_attention_repeats_diffusers_whole_head_slices_on_this_machine(dtype):
    """At a real size (SD-1.5's 4096-token, 8-head layer, batch 2), what Generate runs here (chunks in bf16
    on a CPU without AMX, whole heads with AMX, where oneDNN sums a small matmul's rows in another order, and
    in float32) gives the pixels of the 256 MB whole-head slices --attention sliced took before chunks."""
    if dtype == torch.bfloat16 and not cpu_has_native_bf16():
        pytest.skip("this CPU has no native bfloat16")
    torch.manual_seed(0)
    layer = Attention(query_dim=320, heads=8, dim_head=40).eval().to(dtype)
    x = torch.randn(2, 4096, 320, dtype=dtype)
    with torch.inference_mode():
        want = SlicedAttnProcessor(8)(layer, x)  # 8 heads of 4096 x 4096 scores: 256 MB in bf16
        got = SlicedOrSdpa()(layer, x)
    assert torch.equal(got, want)


def test_a_call_holds_one_chunk_of_scores_at_a_time_however_many_heads_and_tokens():
    """2,048 tokens in float32 are 16 MB of scores a head (128 MB for the eight of a whole-head slice): no
    allocation of the call is bigger than a chunk (4 MB)."""
    from torch.profiler import ProfilerActivity, profile

    layer, x = _layer(), torch.randn(2, 2048, 64)
    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        SlicedOrSdpa(in_chunks=True)(layer, x)
    biggest = max(event.cpu_memory_usage for event in prof.events())
    assert 2048 * 64 * 4 <= biggest <= CHUNK_BYTES, biggest


def test_too_big_a_call_goes_to_sdpa(monkeypatch):
    layer, x = _layer(), torch.randn(2, 256, 64)
    monkeypatch.setattr(attention_mod, "SDPA_ABOVE", 256 * 256 * 4 - 1)
    with torch.inference_mode():
        assert torch.equal(SlicedOrSdpa()(layer, x), AttnProcessor2_0()(layer, x))


def test_a_generation_runs_sliced_records_it_and_repeats_itself(test_root):
    assert Generate(root=test_root, precision="float32").attention == choose_attention("auto", CPU)
    gen = Generate(root=test_root, precision="float32", attention="sliced")
    gen.load_model()
    assert gen.attention == "sliced"
    processors = set(map(type, gen._loaded.pipeline.unet.attn_processors.values()))
    assert processors == {SlicedOrSdpa}
    request = GenerationRequest(prompt="a lighthouse", steps=3, width=64, height=64, seed=11, sampler_name="k_euler")
    first = next(iter(gen.generate(request))).image
    again = next(iter(gen.generate(request))).image
    assert read_metadata(first)["image"]["attention"] == "sliced"
    assert first.tobytes() == again.tobytes()

    sdpa = Generate(root=test_root, precision="float32", attention="sdpa")
    sdpa.load_model()
    assert set(map(type, sdpa._loaded.pipeline.unet.attn_processors.values())) == {AttnProcessor2_0}
    other = next(iter(sdpa.generate(request))).image
    assert read_metadata(other)["image"]["attention"] == "sdpa"


def test_the_flag_reaches_the_server_config_and_a_wrong_value_is_refused(capsys):
    args = build_parser().parse_args(["--web", "--attention", "sdpa"])
    assert server_config_from_args(args).attention == "sdpa"
    assert server_config_from_args(build_parser().parse_args(["--web"])).attention == "auto"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--attention", "flash"])
    assert "invalid choice: 'flash'" in capsys.readouterr().err


@pytest.mark.parametrize("attention", ["sliced", "sdpa"])
def test_a_controlnet_s_attention_runs_as_the_unet_s(tmp_path, attention):
    root = build_control_root(tmp_path / "root")
    gen = Generate(root=root, precision="float32", attention=attention)
    gen.load_model()
    stripes = np.zeros((64, 64, 3), dtype=np.uint8)
    stripes[:, ::8] = 255
    unit = ControlUnit("tiny-canny", ImageRef.from_image(Image.fromarray(stripes), "outputs/control-images/s.png"),
                       "canny")
    request = GenerationRequest(prompt="a parrot", steps=2, width=64, height=64, seed=3, sampler_name="k_euler",
                                control=(unit,))
    done = next(iter(gen.generate(request)))
    assert read_metadata(done.image)["image"]["attention"] == attention
    controlnet = gen.model_manager.get_control("tiny-canny", torch.float32).model
    want = SlicedOrSdpa if attention == "sliced" else AttnProcessor2_0
    assert set(map(type, controlnet.attn_processors.values())) == {want}
