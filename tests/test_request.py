"""GenerationRequest: one home for every parameter; it survives JSON and sd-metadata field by field,
its limits move every translation of it, and a recipe may only name files inside the output tree."""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
import textwrap
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ldm.invoke import metadata as md
from ldm.invoke.errors import InvalidParameterError
from ldm.invoke.files import UnsafePathError, resolve_output_url
from ldm.invoke.request import (
    MAX_SEED,
    SAMPLER_IDS,
    BoundingBox,
    GenerationRequest,
    ImageRef,
    PostprocessRequest,
    PostprocessStep,
)

REPO = Path(__file__).resolve().parent.parent


def png(size=(64, 64), color=(10, 120, 200), mode="RGB") -> bytes:
    buffer = BytesIO()
    Image.new(mode, size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def draw(rng: random.Random, mode: str) -> GenerationRequest:
    """A random valid request of one mode."""
    side = lambda: rng.randrange(8, 65) * 8  # noqa: E731
    values = dict(
        prompt=rng.choice(["a cat", "strawberry sushi [blurry]", "a:1.2 b:0.8", "ünïcode ✓", ""]),
        iterations=rng.randint(1, 5),
        steps=rng.randint(1, 1000),
        cfg_scale=round(rng.uniform(1, 200), 3),
        threshold=rng.choice([0.0, round(rng.uniform(0, 1000), 2)]),
        perlin=rng.choice([0.0, round(rng.random(), 3)]),
        width=side(),
        height=side(),
        sampler_name=rng.choice(SAMPLER_IDS),
        seed=rng.randrange(0, MAX_SEED),
        seamless=rng.random() < 0.5,
        clip_skip=rng.randint(0, 4),
        with_variations=tuple((rng.randrange(0, MAX_SEED), round(rng.random(), 3)) for _ in range(rng.randint(0, 3))),
    )
    if mode == "txt2img":
        values.update(hires_fix=rng.random() < 0.5, hires_strength=round(rng.random(), 3))
    else:
        values.update(init_image=ImageRef.from_bytes(png(color=(rng.randrange(256), 0, 0)), "outputs/init-images/a.png"),
                      strength=round(rng.random(), 3), fit=rng.random() < 0.5)
    if mode == "inpaint":
        values.update(init_mask=ImageRef.from_bytes(png(color=(255, 255, 255), mode="RGB"), "outputs/mask-images/m.png"),
                      inpaint_replace=round(rng.random(), 3), seam_size=rng.randint(0, 64),
                      bounding_box=BoundingBox(rng.randrange(64), rng.randrange(64), rng.randint(8, 64), rng.randint(8, 64)))
    return GenerationRequest(**values).validate()


MODES = ("txt2img", "img2img", "inpaint")
RECIPE_FIELDS = ("prompt", "steps", "cfg_scale", "threshold", "perlin", "width", "height", "sampler_name", "seamless",
                 "hires_fix", "strength", "fit", "inpaint_replace", "seam_size", "clip_skip", "bounding_box")


@pytest.mark.parametrize("mode", MODES)
def test_a_request_round_trips_through_json_field_by_field(mode):
    rng = random.Random(f"json-{mode}")
    for _ in range(60):
        request = draw(rng, mode).replace(upscale=rng.choice([None, (2, 0.5), (4, 1.0)]),
                                          facetool=rng.choice(["gfpgan", "codeformer"]),
                                          facetool_strength=round(rng.random(), 2), first_image=rng.randint(0, 3))
        text = json.dumps(request.to_json())  # plain JSON, as the queue database stores it
        again = GenerationRequest.from_json(json.loads(text))
        for f in dataclasses.fields(GenerationRequest):
            assert getattr(again, f.name) == getattr(request, f.name), f.name
        if request.init_image is not None:
            assert again.init_image.data == request.init_image.data and again.init_image.url == request.init_image.url


def test_an_image_whose_bytes_do_not_match_its_hash_is_refused():
    data = ImageRef.from_bytes(png(), "outputs/init-images/a.png").to_json()
    data["sha256"] = "0" * 64
    with pytest.raises(InvalidParameterError, match="sha256"):
        ImageRef.from_json(data)


@pytest.mark.parametrize("mode", MODES)
def test_every_image_of_a_request_round_trips_through_its_png_recipe(mode, tmp_path):
    """The recipe written into each result's PNG brings back the request that makes that one image."""
    rng = random.Random(f"meta-{mode}")
    files = {}
    for _ in range(40):
        request = draw(rng, mode).replace(variation_amount=rng.choice([0.0, round(rng.random(), 3)]))
        for ref in (request.init_image, request.init_mask):
            if ref is not None:
                files[ref.url] = ref.data
        for plan in request.plans():
            meta = md.build_metadata({"model_id": "demo", "model_hash": "abc"},
                                     request.image_metadata(plan, mode, request.width, request.height))
            image = md.attach_metadata(Image.new("RGB", (8, 8)), meta)
            path = tmp_path / "result.png"
            path.write_bytes(md.png_bytes(image))
            again = GenerationRequest.from_metadata(md.read_metadata(path), files.__getitem__)
            for name in RECIPE_FIELDS:
                if name == "strength" and mode == "txt2img":
                    continue
                assert getattr(again, name) == getattr(request, name), name
            assert again.seed == plan.noise_seed and again.with_variations == plan.chain
            assert again.variation_amount == 0 and again.iterations == 1 and again.model == "demo"
            for key in ("init_image", "init_mask"):
                ref, back = getattr(request, key), getattr(again, key)
                assert (ref is None) == (back is None)
                if ref is not None:
                    assert (back.sha256, back.url) == (ref.sha256, ref.url)
            # Regenerating from it draws the same seeds as the original image did.
            [replayed] = again.plans()
            assert (replayed.noise_seed, replayed.chain, replayed.sampler_seed) == \
                (plan.noise_seed, plan.chain, plan.sampler_seed)


def test_postprocessing_in_a_recipe_becomes_the_requests_upscale_and_face_restoration():
    request = GenerationRequest("a face", seed=5)
    [plan] = request.plans()
    meta = md.build_metadata({}, request.image_metadata(plan, "txt2img", 512, 512))
    meta["image"]["postprocessing"] = [{"type": "esrgan", "scale": 4, "strength": 0.6},
                                       {"type": "codeformer", "strength": 0.7, "fidelity": 0.2, "faces": 1}]
    again = GenerationRequest.from_metadata(meta)
    assert again.upscale == (4, 0.6)
    assert (again.facetool, again.facetool_strength, again.codeformer_fidelity) == ("codeformer", 0.7, 0.2)


def test_a_postprocess_request_round_trips_through_json():
    request = PostprocessRequest(ImageRef.from_bytes(png(), "outputs/000001.7.png"),
                                 (PostprocessStep("esrgan", level=4, strength=0.5),
                                  PostprocessStep("gfpgan", strength=0.8)), seed=7).validate()
    assert PostprocessRequest.from_json(json.loads(json.dumps(request.to_json()))) == request


def test_a_request_started_at_image_k_plans_what_an_uninterrupted_run_plans_from_k_on():
    rng = random.Random(3)
    for _ in range(50):
        request = draw(rng, "txt2img").replace(iterations=rng.randint(1, 8),
                                               variation_amount=rng.choice([0.0, 0.3]))
        k = rng.randint(0, request.iterations)
        assert request.replace(first_image=k).plans() == request.plans()[k:]


def test_a_random_seed_is_fixed_once_and_kept():
    request = GenerationRequest("x")
    fixed = request.with_seed()
    assert isinstance(fixed.seed, int) and 0 <= fixed.seed <= MAX_SEED
    assert fixed.with_seed() == fixed
    with pytest.raises(ValueError):
        request.plans()


@pytest.mark.parametrize("field, value", [
    ("iterations", 1001), ("iterations", 0), ("steps", 1.5), ("cfg_scale", 0.5), ("width", 65), ("height", 4096),
    ("sampler_name", "k_nope"), ("seed", MAX_SEED + 1), ("strength", 1.5), ("seam_size", 65), ("clip_skip", 99),
    ("facetool", "magic"), ("upscale", (3, 0.5)), ("prompt", "x" * 20001), ("perlin", float("nan")),
])
def test_validate_names_the_field_that_is_wrong(field, value):
    with pytest.raises(InvalidParameterError) as caught:
        GenerationRequest("x").replace(**{field: value}).validate()
    assert caught.value.field == field


# -- recipes may only name files inside the output tree -----------------------------------------


@pytest.mark.parametrize("recorded", ["../../secret.png", "/home/u/p.png", "outputs/../secret.png",
                                      "outputs/init-images/../../secret.png", "file:///etc/passwd"])
def test_a_recipe_naming_a_path_outside_the_output_tree_is_refused(tmp_path, recorded):
    outdir = tmp_path / "out"
    outdir.mkdir()
    (tmp_path / "secret.png").write_bytes(png())
    meta = {"image": {"prompt": "x", "seed": 1, "type": "img2img", "init_image_path": recorded}}
    reads = []

    def load(url: str) -> bytes:
        path = resolve_output_url(outdir, url)
        reads.append(path)
        return path.read_bytes()

    with pytest.raises(UnsafePathError):
        GenerationRequest.from_metadata(meta, load)
    assert reads == []


def test_a_recipe_whose_input_changed_since_is_refused(tmp_path):
    outdir = tmp_path / "out"
    (outdir / "init-images").mkdir(parents=True)
    (outdir / "init-images" / "a.png").write_bytes(png(color=(1, 2, 3)))
    ref = ImageRef.from_bytes(png(color=(9, 9, 9)), "outputs/init-images/a.png")
    request = GenerationRequest("x", seed=1, init_image=ref)
    [plan] = request.plans()
    meta = md.build_metadata({}, request.image_metadata(plan, "img2img", 64, 64))
    with pytest.raises(InvalidParameterError, match="changed since"):
        GenerationRequest.from_metadata(meta, lambda url: resolve_output_url(outdir, url).read_bytes())


# -- one home for limits and samplers -----------------------------------------------------------


def test_changing_a_limit_only_in_request_py_moves_the_socket_schema_the_cli_and_system_config(tmp_path):
    """In a fresh interpreter, lower the iterations cap before anything else reads it."""
    script = textwrap.dedent(f"""
        import ldm.invoke.request as r
        r.LIMITS["iterations"] = r.Limit(1, 7, integer=True)
        r.LIMITS["steps"] = r.Limit(1, 33, integer=True)

        from invokeai_gui.server.schemas import GenerateImage, RequestError, parse_event
        from ldm.invoke.cli_args import CommandLineError, help_text, parse_generation_line, request_from_switches
        from ldm.invoke.errors import InvalidParameterError

        args = ({{"prompt": "x", "iterations": 8}}, False, False)
        try:
            parse_event(GenerateImage, "generateImage", args, ("generation_parameters", "esrgan_parameters",
                                                                "facetool_parameters"))
            raise SystemExit("the socket schema took 8 iterations")
        except RequestError as exc:
            assert exc.field == "generation_parameters.iterations", exc.field
        parse_event(GenerateImage, "generateImage", ({{"prompt": "x", "iterations": 7}},), ("generation_parameters",))

        line = parse_generation_line("a cat -n 8")
        try:
            request_from_switches(line.prompt, line.options)
            raise SystemExit("the CLI took -n 8")
        except InvalidParameterError as exc:
            assert exc.field == "iterations"
        assert "(1-33)" in help_text(), help_text()

        from pathlib import Path
        from invokeai_gui.server.config import ServerConfig
        from invokeai_gui.server.publisher import Publisher
        from invokeai_gui.server.studio import Studio

        class Nowhere:
            def emit(self, *a, **k):
                pass

        studio = Studio(ServerConfig(root=Path({str(tmp_path)!r})), Publisher(Nowhere()))
        limits = studio.system_config()["limits"]
        assert limits["iterations"]["max"] == 7 and limits["steps"]["max"] == 33, limits
        print("moved")
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "moved" in done.stdout, done.stdout + done.stderr


def test_clients_are_told_how_many_control_units_a_request_may_carry():
    from ldm.invoke.request import MAX_CONTROL_UNITS, limits_for_clients

    assert limits_for_clients()["control_units"] == {"max": MAX_CONTROL_UNITS}


def test_the_sampler_table_lives_in_the_request_and_a1111_names_map_onto_it():
    from ldm.invoke.request import sampler_for_a1111
    from ldm.invoke.samplers import available_samplers

    assert set(available_samplers()) <= set(SAMPLER_IDS)
    assert sampler_for_a1111("Euler a") == "k_euler_a"
    assert sampler_for_a1111("DPM++ 2M Karras") == "k_dpmpp_2m_karras"
    assert sampler_for_a1111("dpm++ sde karras") == "k_dpmpp_sde"
    assert sampler_for_a1111("Not a sampler") is None
    parsed = md.parse_a1111_parameters("a cat\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, "
                                       "Seed: 1, Size: 512x512")
    assert parsed["image"]["sampler"] == "k_dpmpp_2m_karras"


def test_the_request_module_loads_without_torch_or_diffusers():
    script = "import sys, ldm.invoke.request; print(sorted(m for m in sys.modules if m.split('.')[0] in " \
             "('torch', 'diffusers', 'transformers', 'PIL')))"
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_importing_the_worker_loads_no_flask_socketio_or_qt():
    script = ("import sys, invokeai_gui.server.worker; print(sorted({m.split('.')[0] for m in sys.modules} & "
              "{'flask', 'flask_socketio', 'socketio', 'engineio', 'werkzeug', 'PyQt6', 'PySide6', 'webview'}))")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


# -- the engine: a resumed request makes the same pictures -----------------------------------------


def test_resuming_at_image_k_equals_the_uninterrupted_runs_images_k_to_n(demo_gen):
    for request in (GenerationRequest("a lighthouse", iterations=4, steps=2, width=64, height=64, seed=11),
                    GenerationRequest("a lighthouse", iterations=3, steps=2, width=64, height=64, seed=11,
                                      variation_amount=0.4, sampler_name="k_euler_a")):
        whole = [np.asarray(d.image) for d in demo_gen.generate(request)]
        rest = list(demo_gen.generate(request.replace(first_image=2)))
        assert [d.plan.index for d in rest] == list(range(2, request.iterations))
        for done, expected in zip(rest, whole[2:]):
            assert np.array_equal(np.asarray(done.image), expected)


@pytest.fixture(scope="module")
def demo_gen(test_root):
    from ldm.invoke.generate import Generate

    gen = Generate(root=test_root, model="demo")
    gen.load_model()
    return gen
