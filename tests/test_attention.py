"""``--attention``: sliced attention on the CPU by default, recorded in the recipe, the same sum as SDPA
within rounding, SDPA for calls too big to slice and under ``--compile``, a ControlNet's attention as the
UNet's, and the flag on every entry point."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from PIL import Image

from invokeai_gui.main import build_parser, server_config_from_args
from ldm.invoke import attention as attention_mod
from ldm.invoke.attention import SlicedOrSdpa, choose_attention
from ldm.invoke.generate import Generate
from ldm.invoke.metadata import read_metadata
from ldm.invoke.request import ControlUnit, GenerationRequest, ImageRef
from tests.support.tiny_control import build_control_root

CPU = torch.device("cpu")


def test_auto_slices_on_the_cpu_and_keeps_sdpa_on_a_gpu_and_under_compile():
    assert choose_attention("auto", CPU) == "sliced"
    assert choose_attention("auto", torch.device("cuda")) == "sdpa"
    assert choose_attention("auto", CPU, compile=True) == "sdpa"
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


def test_slices_follow_the_budget_and_too_big_a_call_goes_to_sdpa(monkeypatch):
    layer, x = _layer(), torch.randn(2, 256, 64)
    processor = SlicedOrSdpa()
    per_head = 256 * 256 * 4
    monkeypatch.setattr(attention_mod, "SLICE_BUDGET", 3 * per_head)
    with torch.inference_mode():
        processor(layer, x)
    assert list(processor.sliced) == [3]  # 3 of the 8 (batch x heads) score matrices at a time
    monkeypatch.setattr(attention_mod, "SDPA_ABOVE", per_head - 1)
    with torch.inference_mode():
        assert torch.equal(processor(layer, x), AttnProcessor2_0()(layer, x))


def test_a_generation_on_the_cpu_runs_sliced_records_it_and_repeats_itself(test_root):
    gen = Generate(root=test_root, precision="float32")
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
