"""The ``invoke>`` command line driven as a user drives it: a real terminal (pexpect), real keystrokes, real PNGs."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pexpect
import pytest
from PIL import Image, ImageDraw, PngImagePlugin

from ldm.invoke.globals import outputs_dir
from tests.support.make_root import build_root

REPO = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "TERM": "xterm",
    # prompt_toolkit asks the terminal where the cursor is; pexpect's pty never answers, so don't ask.
    "PROMPT_TOOLKIT_NO_CPR": "1",
    "PYTHONPATH": str(REPO),
}
SMALL = "-s 2 -W 64 -H 64"
RESULT = r"(\S+\.png): ([^\r\n]*)\r\n"
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[@-Z\\-_]")


class Terminal:
    """A program in a pseudo-terminal; ``expect`` matches what a user would read (escape codes removed)."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.child = pexpect.spawn(args[0], args[1:], cwd=str(cwd), env=ENV, encoding="utf-8",
                                   dimensions=(60, 400), timeout=60)
        self.raw = ""
        self.pos = 0

    @property
    def text(self) -> str:
        # prompt_toolkit sometimes moves the cursor right instead of writing a space
        spaced = re.sub(r"\x1b\[(\d*)C", lambda m: " " * int(m.group(1) or 1), self.raw)
        return _ESCAPES.sub("", spaced)

    def expect(self, pattern: str, timeout: float = 60) -> re.Match:
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = rx.search(self.text, self.pos)
            if match:
                self.pos = match.end()
                return match
            if time.monotonic() > deadline or not self.child.isalive() and not self._read(0.1):
                raise AssertionError(f"never saw {pattern!r}; the terminal showed:\n{self.text[max(0, self.pos - 500):]}")
            self._read(0.2)

    def _read(self, timeout: float) -> bool:
        try:
            self.raw += self.child.read_nonblocking(65536, timeout=timeout)
            return True
        except (pexpect.TIMEOUT, pexpect.EOF):
            return False

    def prompt(self) -> None:
        self.expect(r"invoke>")

    def run(self, line: str) -> None:
        """Types a line and presses Enter."""
        self.child.send(line + "\r")

    def results(self, count: int = 1) -> list[tuple[Path, str]]:
        """The files the last line wrote, as the CLI printed them, then waits for the next prompt."""
        found = []
        for _ in range(count):
            m = self.expect(RESULT + r"|Error: ([^\r\n]*)\r\n")
            assert m.group(3) is None, f"the CLI said: Error: {m.group(3)}"
            found.append((Path(m.group(1)), m.group(2)))
        self.prompt()
        return found

    def error(self) -> str:
        """The one-line error the last line gave; the prompt must come straight after it."""
        m = self.expect(r"Error: ([^\r\n]*)\r\n(\s*)invoke>")
        assert m.group(2).strip() == "", f"more than one line of error output: {m.group(0)!r}"
        return m.group(1)

    def quit(self) -> int:
        try:
            self.child.sendintr()  # clear whatever a failed test left on the line
            self.prompt()
            self.run("q")
            self.expect("Goodbye")
            self.child.expect(pexpect.EOF, timeout=30)
        finally:
            self.child.close(force=True)
        return self.child.exitstatus


def make_image(term: Terminal, prompt: str, switches: str = "") -> Path:
    term.run(f'"{prompt}" {SMALL} {switches}')
    [(path, _)] = term.results()
    return path


def metadata(path: Path) -> dict:
    with Image.open(path) as im:
        return json.loads(im.info["sd-metadata"])


def dream(path: Path) -> str:
    with Image.open(path) as im:
        return im.info["Dream"]


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return build_root(tmp_path_factory.mktemp("cli-root"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """The shell's current folder: an init image and a mask a user would have lying around."""
    work = tmp_path_factory.mktemp("cli-cwd")
    init = Image.new("RGB", (64, 64))
    ImageDraw.Draw(init).rectangle((0, 0, 31, 63), fill=(200, 60, 30))
    init.save(work / "init.png")
    mask = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(mask).rectangle((16, 16, 47, 47), fill=255)
    mask.save(work / "mask.png")
    return work


@pytest.fixture(scope="module")
def batch(root, tmp_path_factory):
    """``invokeai --from_file`` over five lines, the third one bad; started early, so its start-up
    overlaps the interactive session's (each spends most of it importing torch and diffusers)."""
    work = tmp_path_factory.mktemp("cli-batch")
    prompts = work / "prompts.txt"
    prompts.write_text(
        f"a red apple {SMALL} -S 1\n"
        f'"a green pear" {SMALL} -S 2 -A k_euler\n'
        f"a blue plum {SMALL} -W 100\n"
        f"a yellow lemon {SMALL} -S 4\n"
        f"an orange orange {SMALL} -S 5 -C 9\n"
    )
    # no --outdir: the default one under the root; --seamless: a default for every line
    proc = subprocess.Popen(
        [sys.executable, "-m", "invokeai_gui", "--root", str(root), "--seamless", "--from_file", str(prompts)],
        cwd=work, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


@pytest.fixture(scope="module")
def session(root, workdir, batch, tmp_path_factory):
    """One ``invoke>`` session for the module, as a user keeps one open."""
    outdir = tmp_path_factory.mktemp("cli-out")
    term = Terminal([sys.executable, "-m", "ldm.invoke.cli", "--root", str(root), "--outdir", str(outdir)], workdir)
    term.prompt()
    term.outdir = outdir
    yield term
    assert term.quit() == 0


def test_startup_says_the_demo_model_has_random_weights(session):
    banner = session.text
    assert "demo model is in use" in banner and "random weights" in banner
    assert "invokeai-configure" in banner


def test_prompt_with_switches_writes_pngs_whose_metadata_matches_every_switch(session):
    session.run('"strawberry sushi [blurry]" -s 3 -S 42 -W 64 -H 72 -C 8.5 -A ddim -n 2 -v 0.2 -V 7:0.1 '
                "--seamless --hires_fix --perlin 0.2 --threshold 0.5 -m demo-alt")
    results = session.results(2)
    seeds = []
    for path, printed in results:
        assert path.parent == session.outdir and path.is_file()
        assert printed == dream(path), "the printed command is the one stored in the file"
        meta = metadata(path)
        image = meta["image"]
        assert meta["model_id"] == "demo-alt"
        assert image["prompt"] == [{"prompt": "strawberry sushi [blurry]", "weight": 1.0}]
        assert (image["steps"], image["seed"], image["width"], image["height"]) == (3, 42, 64, 72)
        assert (image["cfg_scale"], image["sampler"], image["perlin"], image["threshold"]) == (8.5, "ddim", 0.2, 0.5)
        assert image["seamless"] is True and image["hires_fix"] is True
        assert image["variations"][0] == {"seed": 7, "weight": 0.1}
        assert image["variations"][1]["weight"] == 0.2
        seeds.append(image["variations"][1]["seed"])
        assert path.name.endswith(f".{seeds[-1]}.png")
        assert Image.open(path).size == (64, 72)
    assert seeds[0] != seeds[1], "-n 2 with -v gives two different variations"


def test_init_image_mask_and_strength_switches_are_used_and_recorded(session, workdir):
    session.run(f'"a lighthouse" {SMALL} -S 3 -I init.png -f 0.5 -M mask.png -T -r 0.3')
    [(path, _)] = session.results()
    image = metadata(path)["image"]
    assert image["type"] == "inpaint"
    # Files from outside the output folder are copied in and recorded by their outputs/ URL, so the
    # web UI (and !fetch) can run the recipe too.
    for key, folder, name in (("init_image_path", "init-images", "init"), ("mask_image_path", "mask-images", "mask")):
        recorded = image[key]
        assert recorded.startswith(f"outputs/{folder}/{name}.") and recorded.endswith(".png")
        copied = session.outdir / recorded.removeprefix("outputs/")
        assert copied.read_bytes() == (workdir / f"{name}.png").read_bytes()
        assert image[key.replace("_path", "_hash")] == hashlib.sha256(copied.read_bytes()).hexdigest()
    assert (image["strength"], image["fit"], image["inpaint_replace"]) == (0.5, True, 0.3)
    # outside the mask the init image stays
    assert np.array_equal(pixels(path)[:, :4], pixels(workdir / "init.png")[:, :4])


def test_postprocessing_switches_upscale_and_restore_faces_after_generation(session):
    session.run(f'"a portrait" {SMALL} -S 4 -U 2 0.5 -G 0.5 -ft codeformer -cf 0.6')
    [(path, printed)] = session.results()
    steps = metadata(path)["image"]["postprocessing"]
    assert [s["type"] for s in steps] == ["esrgan", "codeformer"]
    assert (steps[0]["scale"], steps[0]["strength"]) == (2, 0.5)
    assert (steps[1]["strength"], steps[1]["fidelity"]) == (0.5, 0.6)
    assert Image.open(path).size == (128, 128)
    assert "-U 2 0.5" in printed and "-ft codeformer" in printed


def test_fetch_fills_the_prompt_line_and_running_it_regenerates_identical_pixels(session):
    # a variation of a variation, seamless, with Perlin noise and a threshold: all must come back
    original = make_image(session, "a fetched recipe", "-S 8 -V 5:0.3 -v 0.1 -A ddim --seamless --perlin 0.1 "
                                                       "--threshold 2")
    session.run(f"!fetch {original.name}")
    session.expect("is on the prompt line")
    recipe = dream(original)
    session.expect(r"invoke>\s*" + re.escape(recipe))  # the line holds the recipe, ready to edit
    session.run("")  # Enter
    [(path, printed)] = session.results()
    assert path != original
    assert printed == recipe
    assert np.array_equal(pixels(path), pixels(original))


def test_fetch_reads_an_automatic1111_recipe(session, workdir):
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a watercolour fox\nNegative prompt: blurry\n"
                                "Steps: 2, Sampler: Euler a, CFG scale: 6, Seed: 77, Size: 64x64, Model: sd15")
    Image.new("RGB", (64, 64), "white").save(workdir / "a1111.png", pnginfo=info)
    session.run("!fetch a1111.png")
    session.expect(r"invoke>\s*'a watercolour fox \[blurry\]' -s 2 -S 77 -W 64 -H 64 -C 6 -A k_euler_a")
    session.run("")
    [(path, _)] = session.results()
    image = metadata(path)["image"]
    assert (image["seed"], image["sampler"], image["cfg_scale"]) == (77, "k_euler_a", 6.0)
    assert image["prompt"][0]["prompt"] == "a watercolour fox [blurry]"


def test_ctrl_c_at_the_prompt_clears_the_line(session):
    session.child.send("a line I regret")
    session.expect("regret")
    session.child.sendintr()
    session.prompt()
    assert make_image(session, "a fresh start", "-S 12").name.endswith(".12.png")


def test_fix_upscales_a_saved_image_into_a_postprocessed_file(session):
    source = make_image(session, "a small picture", "-S 5 -v 0.1 -H 72")
    session.run(f"!fix {source.name} -U 2 0.75")
    m = session.expect(r"(\S+\.postprocessed\.png): !fix")
    session.prompt()
    fixed = Path(m.group(1))
    seed = source.name.split(".")[1]
    assert fixed.parent == session.outdir and fixed.name.endswith(f".{seed}.postprocessed.png")
    assert Image.open(fixed).size == (128, 144)
    meta = metadata(fixed)["image"]
    assert meta["postprocessing"] == [{"type": "esrgan", "scale": 2, "strength": 0.75}]
    assert meta["seed"] == metadata(source)["image"]["seed"] == 5


def test_missing_postprocessor_weights_give_a_one_line_error_naming_the_file(session, root):
    weights = root / "models" / "gfpgan" / "GFPGANv1.4.pth"
    hidden = weights.with_name("elsewhere.pth")
    source = make_image(session, "a face, perhaps", "-S 6")
    shutil.move(weights, hidden)
    try:
        session.run(f"!fix {source.name} -G 0.8 -ft gfpgan")
        message = session.error()
    finally:
        shutil.move(hidden, weights)
    assert "GFPGANv1.4.pth" in message and "invokeai-configure" in message


def test_a_lora_that_is_not_there_is_told_under_the_image_it_was_ignored_for(session, root):
    path = make_image(session, "a cat <lora:nowhere:0.5>", "-S 7")
    told = f"LoRA 'nowhere' was not found in {root / 'loras'}; it was ignored"
    assert re.search(rf"{re.escape(path.name)}: [^\r\n]*\r\nWarning: {re.escape(told)}\r\n", session.text)
    assert metadata(path)["image"]["warnings"] == [told]


def test_bad_values_and_unknown_switches_give_one_line_errors_and_the_prompt_continues(session):
    session.run("a cat -s 2 -W 100 -H 64")
    assert session.error() == "width: must be a multiple of 8 from 64 to 2048, got 100"
    session.run("a cat --step 2")
    assert session.error().startswith("Unknown switch --step; did you mean --steps?")
    session.run("a cat -s 2 -A k_nonsense")
    assert "unknown sampler 'k_nonsense'" in session.error()
    session.run("!fetch no-such-file.png")
    assert "no-such-file.png" in session.error()
    session.run("!bogus")
    assert session.error().startswith("Unknown command !bogus")
    session.run("!help")
    session.expect(r"-A, --sampler SAMPLER")
    session.expect(r"!fetch IMAGE")
    session.prompt()
    # and the prompt still works
    assert make_image(session, "a cat", "-S 11").name.endswith(".11.png")


def test_history_lists_the_lines_and_bang_n_runs_one_again(session):
    session.run("a mistyped line --step 2")
    session.error()
    line = f"a history lesson {SMALL} -S 21"
    session.run(line)
    [(first, _)] = session.results()
    session.run("!history")
    listing = session.expect(r"((?:\s*\d+  [^\r\n]*\r\n)+)\s*invoke>").group(1)
    numbers = {text: int(n) for n, text in re.findall(r"(\d+)  ([^\r\n]*)", listing)}
    assert line in numbers and numbers["a mistyped line --step 2"] == numbers[line] - 1
    session.run(f"!{numbers[line]}")
    session.expect(re.escape(f"Line {numbers[line]}: {line}"))
    [(again, _)] = session.results()
    assert again != first and np.array_equal(pixels(again), pixels(first))


def test_history_survives_a_restart(session, root, workdir):
    """A second session sees the first one's lines (the history file lives in the root dir)."""
    session.run("!models")
    session.expect(r"demo-alt")
    session.prompt()
    term = Terminal([sys.executable, "-m", "ldm.invoke.cli", "--root", str(root), "--outdir",
                     str(session.outdir)], workdir)
    term.prompt()
    term.child.send("\x1b[A")  # the Up arrow recalls the last line of the earlier session
    term.expect(r"!models")
    term.child.sendintr()
    term.prompt()
    term.run("!history")
    term.expect(r"\d+  !models\r\n")
    term.prompt()
    term.child.sendeof()  # Ctrl-D quits
    term.expect("Goodbye")
    term.child.expect(pexpect.EOF, timeout=30)
    term.child.close()
    assert term.child.exitstatus == 0


def test_tab_completes_a_sampler_name(session):
    session.child.send(f'"a completed thought" {SMALL} -S 13 -A k_eu')
    session.child.send("\t")
    session.expect(r"k_euler")  # both k_euler and k_euler_a match: TAB fills in the common part
    session.child.send(" --thr")
    session.child.send("\t")
    session.expect(r"threshold")
    session.child.send(" 1 -I ini")
    session.child.send("\t")
    session.expect(r"init\.png")  # file names complete too
    session.run("")
    [(path, _)] = session.results()
    image = metadata(path)["image"]
    assert image["sampler"] == "k_euler" and image["threshold"] == 1.0
    assert image["init_image_path"].startswith("outputs/init-images/init.")


def test_switch_changes_the_model_and_models_lists_them(session):
    session.child.send("!swi")
    session.child.send("\t")  # commands complete ...
    session.expect(r"!switch")
    session.child.send(" demo-a")
    session.child.send("\t")  # ... and so do model names
    session.expect(r"demo-alt")
    session.run("")
    session.expect("Model is now demo-alt")
    session.prompt()
    session.run("!models")
    session.expect(r"\* demo-alt\s+active")
    session.prompt()
    session.run("!switch no-such-model")
    assert "Unknown model 'no-such-model'" in session.error()
    assert metadata(make_image(session, "after a switch", "-S 3"))["model_id"] == "demo-alt"
    session.run("!switch demo")
    session.expect("demo model is in use")
    session.prompt()
    assert metadata(make_image(session, "back again", "-S 3"))["model_id"] == "demo"


def test_from_file_runs_every_line_reports_the_bad_one_and_exits_non_zero(root, batch):
    stdout, stderr = batch.communicate(timeout=180)
    assert batch.returncode != 0, stdout + stderr
    assert "line 3: width: must be a multiple of 8 from 64 to 2048, got 100" in stdout
    files = sorted(outputs_dir(root).glob("*.png"))
    assert len(files) == 4
    assert sorted(metadata(f)["image"]["seed"] for f in files) == [1, 2, 4, 5]
    assert all(metadata(f)["image"]["seamless"] for f in files), "--seamless at launch applies to every line"
