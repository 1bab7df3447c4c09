"""AUTOMATIC1111's prompt syntax: the weights and per-step schedules our parser gives (cases written from
A1111's documented behaviour), then the same prompts through the tiny demo model."""

from __future__ import annotations

import pytest

from ldm.invoke.prompt_syntax import chunks_of, parse_attention, prompt_schedule, schedule

E = 1.1


def approx_pieces(pieces):
    return [(t, pytest.approx(w)) for t, w in pieces]


# -- emphasis -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt, pieces",
    [
        ("a plain prompt", [("a plain prompt", 1.0)]),
        ("a (red) ball", [("a ", 1.0), ("red", E), (" ball", 1.0)]),
        ("((red)) ball", [("red", E * E), (" ball", 1.0)]),
        ("(((red)))", [("red", E ** 3)]),
        ("a [red] ball", [("a ", 1.0), ("red", 1 / E), (" ball", 1.0)]),
        ("[[red]]", [("red", 1 / E ** 2)]),
        ("(red:1.3) ball", [("red", 1.3), (" ball", 1.0)]),
        ("(red: 0.5 ) ball", [("red", 0.5), (" ball", 1.0)]),
        ("(big (red:1.5) ball)", [("big ", E), ("red", 1.5 * E), (" ball", E)]),
        ("(a [b] c:2)", [("a ", 2.0), ("b", 2.0 / E), (" c", 2.0)]),
        ("[a (b) c]", [("a ", 1 / E), ("b", 1.0), (" c", 1 / E)]),
        ("(open to the end", [("open to the end", E)]),
        ("[open (both", [("open ", 1 / E), ("both", 1.0)]),
        ("stray) closers]", [("stray) closers]", 1.0)]),
        ("", [("", 1.0)]),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_emphasis_weights(prompt, pieces):
    assert parse_attention(prompt) == approx_pieces(pieces)


@pytest.mark.parametrize(
    "prompt, pieces",
    [
        (r"\(literal\) brackets", [("(literal) brackets", 1.0)]),
        (r"\[also\] literal", [("[also] literal", 1.0)]),
        (r"(a \(b\):1.2)", [("a (b)", 1.2)]),
        (r"time 10\:30", [("time 10:30", 1.0)]),
        (r"(10\:30)", [("10:30", E)]),
        (r"back\\slash", [("back\\slash", 1.0)]),
        ("a colon: here", [("a colon: here", 1.0)]),
        ("weight outside:1.2) brackets", [("weight outside:1.2) brackets", 1.0)]),
    ],
)
def test_escapes_are_literal_characters(prompt, pieces):
    assert parse_attention(prompt) == approx_pieces(pieces)


def test_break_splits_the_prompt_into_chunks():
    assert chunks_of("a castle BREAK a (dragon:1.2)") == [[("a castle", 1.0)], [("a ", 1.0), ("dragon", 1.2)]]
    assert chunks_of("BREAKING news") == [[("BREAKING news", 1.0)]]  # a whole word only
    assert chunks_of("lower break case") == [[("lower break case", 1.0)]]
    assert parse_attention("(a BREAK b)") == approx_pieces([("a", E), ("BREAK", -1.0), ("b", E)])


# -- prompt editing and alternation ---------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt, steps, expected",
    [
        ("no editing", 20, [(20, "no editing")]),
        ("a [fantasy:cyberpunk:16] landscape", 100, [(16, "a fantasy landscape"), (100, "a cyberpunk landscape")]),
        ("[cat:dog:0.5]", 10, [(5, "cat"), (10, "dog")]),
        ("[cat:dog:0.25]", 10, [(2, "cat"), (10, "dog")]),  # int(2.5): step 2
        ("a [tiger:5] cub", 10, [(5, "a  cub"), (10, "a tiger cub")]),  # added after step 5
        ("a [tiger::5] cub", 10, [(5, "a tiger cub"), (10, "a  cub")]),  # removed after step 5
        ("[cat:dog:50]", 10, [(10, "cat")]),  # past the end: never switches
        ("[cat:dog:0.01]", 10, [(10, "dog")]),  # at step 0: switched from the start
        ("[cat:dog: 3 ]", 6, [(3, "cat"), (6, "dog")]),
        ("[a|b]", 4, [(1, "a"), (2, "b"), (3, "a"), (4, "b")]),
        ("[a|b|c] x", 5, [(1, "a x"), (2, "b x"), (3, "c x"), (4, "a x"), (5, "b x")]),
        ("[a||c]", 3, [(1, "a"), (2, ""), (3, "c")]),
        ("[(big:1.5) cat:small dog:2]", 4, [(2, "(big:1.5) cat"), (4, "small dog")]),
        ("[[a|b]:c:2]", 4, [(1, "a"), (2, "b"), (4, "c")]),
        ("[a:[b:c:3]:1]", 4, [(1, "a"), (3, "b"), (4, "c")]),
        ("([a:b:2])", 3, [(2, "(a)"), (3, "(b)")]),
        ("[word] and [a:b] stay text", 3, [(3, "[word] and [a:b] stay text")]),
        (r"\[not:an:1\] edit", 3, [(3, r"\[not:an:1\] edit")]),
        ("[unbalanced:1", 3, [(3, "[unbalanced:1")]),
    ],
)
def test_per_step_schedule(prompt, steps, expected):
    assert prompt_schedule(prompt, steps) == expected


def test_the_complex_prompt_weights_and_schedule():
    prompt = "((emphasis)), (emphasis1:1.1), [to:1], [from::2], [from:to:0.3], [alt|alt1]"
    head = [("emphasis", E * E), (", ", 1.0), ("emphasis1", 1.1)]
    expected = [
        (1, [head + [(", , from, from, alt", 1.0)]]),  # step 1: [to:1] not yet, [from:to:0.3] still "from"
        (2, [head + [(", to, from, to, alt1", 1.0)]]),
        (3, [head + [(", to, , to, alt", 1.0)]]),  # [from::2] gone after step 2
        (4, [head + [(", to, , to, alt1", 1.0)]]),
        (5, [head + [(", to, , to, alt", 1.0)]]),
    ]
    got = schedule(prompt, 5)
    assert [u for u, _ in got] == [u for u, _ in expected]
    for (_, chunks), (_, want) in zip(got, expected):
        assert chunks == [approx_pieces(c) for c in want]
    # at 10 steps [from:to:0.3] switches after step 3
    assert [t for _, t in prompt_schedule(prompt, 10)][:4] == [
        "((emphasis)), (emphasis1:1.1), , from, from, alt",
        "((emphasis)), (emphasis1:1.1), to, from, from, alt1",
        "((emphasis)), (emphasis1:1.1), to, , from, alt",
        "((emphasis)), (emphasis1:1.1), to, , to, alt1",
    ]


def test_editing_inside_emphasis_keeps_the_weight():
    assert schedule("a (b [c:d:0.5]:1.5) e", 4) == [
        (2, [approx_pieces([("a ", 1.0), ("b c", 1.5), (" e", 1.0)])]),
        (4, [approx_pieces([("a ", 1.0), ("b d", 1.5), (" e", 1.0)])]),
    ]


# -- through the demo model (SD 1.x, random weights, loaded from disk) ----------------------------

SMALL = {"width": 64, "height": 64, "steps": 4, "seed": 42}


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    from ldm.invoke.generate import Generate

    g = Generate(root=tmp_path_factory.mktemp("syntax-root"))  # auto, as the server fixture
    g.load_model()
    return g


def digest(image) -> str:
    import hashlib

    import numpy as np

    return hashlib.sha256(np.asarray(image.convert("RGB")).tobytes()).hexdigest()[:16]


def one(gen, prompt: str, **kw):
    return gen.prompt2image(prompt, **{**SMALL, **kw})[0][0]


# That InvokeAI-syntax prompts keep making the pictures they made before A1111's syntax existed is
# tests/test_reference_images.py's to check (its recipes were made by the code of that day).


def test_a1111_plain_prompt_and_negative_field_mean_what_invoke_syntax_means(gen):
    """No syntax used: A1111's window (BOS, tokens, EOS, padding) is the one our encoder always built."""
    assert digest(one(gen, "strawberry sushi", prompt_syntax="a1111")) == digest(one(gen, "strawberry sushi"))
    assert digest(one(gen, "strawberry sushi", prompt_syntax="a1111", clip_skip=1)) == \
        digest(one(gen, "strawberry sushi", clip_skip=1))
    assert digest(one(gen, "(strawberry:1.3) sushi", prompt_syntax="a1111", clip_skip=1)) != \
        digest(one(gen, "(strawberry:1.3) sushi", prompt_syntax="a1111"))
    invoke = one(gen, "strawberry sushi [blurry, dark]", cfg_scale=12)
    a1111 = one(gen, "strawberry sushi", cfg_scale=12, prompt_syntax="a1111", negative_prompt="blurry, dark")
    assert digest(invoke) == digest(a1111)


def test_a1111_square_brackets_are_de_emphasis_not_negative(gen):
    invoke_negative = one(gen, "strawberry sushi [blurry]", cfg_scale=12)
    a1111 = one(gen, "strawberry sushi [blurry]", cfg_scale=12, prompt_syntax="a1111")
    with_word = one(gen, "strawberry sushi blurry", cfg_scale=12, prompt_syntax="a1111")
    assert len({digest(invoke_negative), digest(a1111), digest(with_word)}) == 3


def test_a1111_weights_change_the_image_and_weight_one_does_not(gen):
    plain = digest(one(gen, "strawberry sushi", cfg_scale=12, prompt_syntax="a1111"))
    assert digest(one(gen, "(strawberry:1.0) sushi", cfg_scale=12, prompt_syntax="a1111")) == plain
    up = digest(one(gen, "(strawberry:1.6) sushi", cfg_scale=12, prompt_syntax="a1111"))
    down = digest(one(gen, "[[strawberry]] sushi", cfg_scale=12, prompt_syntax="a1111"))
    assert len({plain, up, down}) == 3


def test_a1111_long_prompts_use_every_token_and_break_starts_a_window(gen, caplog):
    long_prompt = "strawberry sushi, " * 30 + "a red dragon"  # > 75 tokens
    a1111 = one(gen, long_prompt, prompt_syntax="a1111")
    assert not any("longer than" in r.message for r in caplog.records)
    cut = one(gen, "strawberry sushi, " * 30 + "a blue whale", prompt_syntax="a1111")
    assert digest(a1111) != digest(cut)  # the words past token 75 still count
    joined = one(gen, "strawberry sushi a red dragon", prompt_syntax="a1111")
    broken = one(gen, "strawberry sushi BREAK a red dragon", prompt_syntax="a1111")
    assert digest(joined) != digest(broken)


def _hand_scheduled(gen, request, phases_of):
    """Runs ``request`` with a schedule built by hand: [(until_step, prompt)] encoded one by one."""
    import torch

    from ldm.invoke.conditioning import Phase, parse_prompt
    from ldm.invoke.devices import autocast_for, weights_dtype
    from ldm.invoke.generator.base import Conditioning, Progress
    from ldm.invoke.noise import SeededNoise

    request = request.with_seed().validate()
    model = gen._model()
    with torch.inference_mode(), autocast_for(gen.precision, gen.torch_device):
        g = gen._generator("txt2img", request, model, weights_dtype(gen.precision, gen.torch_device))
        encoded = [(until, g.conditioning(parse_prompt(p, "a1111"), request.cfg_scale, 0.0, steps=request.steps))
                   for until, p in phases_of]
        phases = tuple(Phase(until, c.cond, c.uncond) for until, c in encoded)
        cond = Conditioning(phases[0].cond, phases[0].uncond, request.cfg_scale, phases=phases)
        return g.run(request, SeededNoise(request, request.plans()[0]), cond, Progress())


def test_prompt_editing_switches_the_conditioning_at_the_middle_step(gen):
    from ldm.invoke.request import GenerationRequest

    edited = one(gen, "[cat:dog:0.5]", cfg_scale=12, prompt_syntax="a1111")
    cat = one(gen, "cat", cfg_scale=12, prompt_syntax="a1111")
    dog = one(gen, "dog", cfg_scale=12, prompt_syntax="a1111")
    assert len({digest(edited), digest(cat), digest(dog)}) == 3
    request = GenerationRequest("[cat:dog:0.5]", cfg_scale=12, prompt_syntax="a1111", **SMALL)
    assert digest(_hand_scheduled(gen, request, [(2, "cat"), (4, "dog")])) == digest(edited)
    assert digest(_hand_scheduled(gen, request, [(1, "cat"), (4, "dog")])) != digest(edited)
    assert digest(_hand_scheduled(gen, request, [(3, "cat"), (4, "dog")])) != digest(edited)


def test_alternation_changes_every_step(gen):
    from ldm.invoke.request import GenerationRequest

    alternating = one(gen, "[cat|dog]", cfg_scale=12, prompt_syntax="a1111")
    request = GenerationRequest("[cat|dog]", cfg_scale=12, prompt_syntax="a1111", **SMALL)
    every_step = [(1, "cat"), (2, "dog"), (3, "cat"), (4, "dog")]
    assert digest(_hand_scheduled(gen, request, every_step)) == digest(alternating)
    assert digest(_hand_scheduled(gen, request, [(2, "cat"), (4, "dog")])) != digest(alternating)


def test_the_complex_prompt_generates_and_records_its_syntax(gen):
    from ldm.invoke.metadata import read_metadata
    from ldm.invoke.request import GenerationRequest

    prompt = "((emphasis)), (emphasis1:1.1), [to:1], [from::2], [from:to:0.3], [alt|alt1]"
    image = one(gen, prompt, prompt_syntax="a1111", negative_prompt="(blurry:1.2)", sampler_name="k_heun")
    meta = read_metadata(image) if not hasattr(image, "info") or "sd-metadata" not in image.info else None
    import json

    meta = json.loads(image.info["sd-metadata"]) if meta is None else meta
    assert meta["image"]["prompt_syntax"] == "a1111" and meta["image"]["negative_prompt"] == "(blurry:1.2)"
    assert meta["image"]["prompt"] == [{"prompt": prompt, "weight": 1.0}]
    recalled = GenerationRequest.from_metadata(meta)
    assert (recalled.prompt, recalled.prompt_syntax, recalled.negative_prompt) == (prompt, "a1111", "(blurry:1.2)")
    again = gen.prompt2image(recalled.prompt, width=64, height=64, steps=recalled.steps, seed=recalled.seed,
                             sampler_name=recalled.sampler_name, prompt_syntax=recalled.prompt_syntax,
                             negative_prompt=recalled.negative_prompt)[0][0]
    assert digest(again) == digest(image)


def test_an_unknown_syntax_is_refused_by_name(gen):
    from ldm.invoke.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError) as info:
        one(gen, "cat", prompt_syntax="comfy")
    assert info.value.field == "prompt_syntax" and "a1111" in str(info.value)


# -- SDXL: two encoders, pooled from the first window ---------------------------------------------


@pytest.fixture(scope="module")
def sdxl(tmp_path_factory):
    from diffusers import StableDiffusionXLPipeline

    from tests.support.tiny_checkpoints import build_tiny_pipeline

    folder = tmp_path_factory.mktemp("tiny-sdxl")
    build_tiny_pipeline("sdxl").save_pretrained(folder)
    pipe = StableDiffusionXLPipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_sdxl_a1111_prompts_schedule_and_chunk(sdxl):
    import numpy as np
    import torch

    from ldm.invoke.conditioning import parse_prompt
    from ldm.invoke.generator.base import Progress
    from ldm.invoke.generator.txt2img import Txt2Img
    from ldm.invoke.noise import SeededNoise
    from ldm.invoke.request import GenerationRequest

    g = Txt2Img(sdxl, torch.device("cpu"), torch.float32)

    def make(prompt: str, negative: str = ""):
        request = GenerationRequest(prompt, prompt_syntax="a1111", negative_prompt=negative, cfg_scale=12,
                                    **SMALL).validate()
        with torch.inference_mode():
            cond = g.conditioning(parse_prompt(prompt, "a1111", negative), 12, 0.0, steps=4)
            image = g.run(request, SeededNoise(request, request.plans()[0]), cond, Progress())
        return cond, np.asarray(image)

    cond, _ = make("a cat " * 60)
    assert cond.cond.shape[1] == 2 * 77 and cond.cond.shape[2] == 32 + 64  # two windows, both encoders side by side
    assert not cond.uncond.any()  # an empty negative prompt is zeros, as SDXL was trained
    first_window, _ = make("a cat " * 37 + "a")  # its first 75 tokens
    assert torch.equal(cond.pooled, first_window.pooled)  # pooled from the first window only
    edited, edited_pixels = make("[cat:dog:0.5]", "blurry")
    assert len(edited.phases) == 2 and not torch.equal(edited.phases[0].pooled, edited.phases[1].pooled)
    _, cat_pixels = make("cat", "blurry")
    assert not np.array_equal(edited_pixels, cat_pixels)


# -- the CLI: a start-up flag, a per-line switch, and !fetch that keeps both -------------------------


def test_cli_reads_a1111_lines_and_fetch_brings_back_syntax_and_negative(gen, tmp_path):
    import numpy as np
    from PIL import Image

    from ldm.invoke.cli import build_arg_parser
    from tests.support.cli_session import CliSession

    assert build_arg_parser().parse_args(["--prompt-syntax", "a1111"]).prompt_syntax == "a1111"
    cli = CliSession(gen, tmp_path, prompt_syntax="a1111")
    path = cli.made("[cat:dog:0.5] --negative_prompt 'blurry, (ugly:1.2)' -s 4 -W 64 -H 64 -S 42 -C 12")
    expected = one(gen, "[cat:dog:0.5]", cfg_scale=12, prompt_syntax="a1111", negative_prompt="blurry, (ugly:1.2)")
    assert digest(Image.open(path)) == digest(expected)
    cli.cli.prompt_syntax = "invoke"  # the recipe, not the start-up default, decides
    command = cli.say(f"!fetch {path.name}")
    assert "--prompt_syntax a1111" in command and "--negative_prompt 'blurry, (ugly:1.2)'" in command
    again = cli.made(command)
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(path)))
    with pytest.raises(AssertionError, match="prompt_syntax"):
        cli.say("a cat --prompt_syntax comfy -s 1 -W 64 -H 64")


# -- the studio over Socket.IO: generateImage carries the syntax, the result records it -----------


def test_generate_image_over_socketio_with_a1111_syntax(server, connect, gen):
    from tests.test_server_walkthrough import params, results_of

    client = connect(server.url)
    prompt = "[cat:dog:0.5], (fur:1.3)"
    sent = params(prompt=prompt, prompt_syntax="a1111", negative_prompt="[blurry]", steps=4, seed=42, cfg_scale=12,
                  sampler_name="k_lms", progress_latents=False)
    job_id = client.call("generateImage", sent, False, False)["jobId"]
    [result] = results_of(client, job_id, 1)
    image = result["metadata"]["image"]
    assert (image["prompt"], image["prompt_syntax"], image["negative_prompt"]) == (
        [{"prompt": prompt, "weight": 1.0}], "a1111", "[blurry]")
    from PIL import Image

    made = Image.open(server.studio.outdir / result["url"].removeprefix("outputs/"))
    assert digest(made) == digest(one(gen, prompt, cfg_scale=12, prompt_syntax="a1111", negative_prompt="[blurry]"))
    client.emit("generateImage", params(prompt_syntax="comfy"), False, False)
    message = client.wait_for("error")[0]["message"]
    assert "prompt_syntax" in message
    client.emit("requestSystemConfig")
    assert client.wait_for("systemConfig")  # the server lives on


def test_img2img_counts_steps_as_a1111_from_its_first_run_step(gen, tmp_path):
    """The schedule spans the request's steps; an img2img pass of 2 of 4 steps runs steps 1 and 2 of it,
    so [cat:dog:0.5] there is all cat, and [cat:dog:1] switches after its first step."""
    one(gen, "strawberry sushi").save(tmp_path / "init.png")
    init = {"init_img": str(tmp_path / "init.png"), "strength": 0.5, "cfg_scale": 12, "prompt_syntax": "a1111"}
    cat, dog = digest(one(gen, "cat", **init)), digest(one(gen, "dog", **init))
    assert cat != dog
    assert digest(one(gen, "[cat:dog:0.5]", **init)) == cat
    assert digest(one(gen, "[cat:dog:1]", **init)) not in (cat, dog)
