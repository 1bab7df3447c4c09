"""The interactive ``invoke>`` command line of InvokeAI 2.x, and ``--from_file`` batches, over ``Generate``.

    python -m ldm.invoke.cli --root ROOT --outdir OUT
    invoke> "a red apple on a table" -s 30 -S 42 -A k_euler_a
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .cli_args import (
    FIX_SWITCHES,
    SWITCHES,
    CommandLineError,
    help_text,
    parse_generation_line,
    parse_switches,
    request_from_switches,
    split_words,
    switch_names,
)
from .compile import COMPILING
from .errors import InvokeError
from .files import (
    CONTROL_FOLDER,
    INIT_FOLDER,
    MASK_FOLDER,
    atomic_write,
    is_output_url,
    parse_result_name,
    relative_to_output_url,
    resolve_output_url,
)
from .flags import add_engine_flags
from .request import GenerationRequest, ImageRef
from .threads import use_physical_cores

if TYPE_CHECKING:

    from .generate import Generate

log = logging.getLogger(__name__)

HISTORY_FILE = ".invoke_history"
QUIT_WORDS = ("q", "quit", "exit")
COMMANDS = ("!fix", "!fetch", "!history", "!switch", "!models", "!help")
DEMO_NOTICE = (
    "** The demo model is in use: it has random weights and makes noise-like pictures, not real images.\n"
    "** Install Stable Diffusion 1.5 with `invokeai-configure`, then restart or `!switch` to it."
)
INTERRUPTED = "Interrupted."


# ---------------------------------------------------------------------------------------------
# History and completion (prompt_toolkit)


def _history_class():
    from prompt_toolkit.history import FileHistory

    class LineHistory(FileHistory):
        """The lines typed at ``invoke>``, kept in the root dir across sessions.

        prompt_toolkit would store each line as typed; here the CLI decides what is stored, so
        ``!3`` goes into the history as the line it ran, the way a shell expands ``!3``.
        """

        def __init__(self, filename: str) -> None:
            super().__init__(filename)
            try:
                self.lines: list[str] = list(reversed(list(self.load_history_strings())))
            except OSError:
                self.lines = []

        def append_string(self, string: str) -> None:
            pass  # prompt_toolkit's automatic append; see add()

        def add(self, line: str) -> None:
            self.lines.append(line)
            try:
                super().append_string(line)
            except OSError as e:
                log.warning("Could not save the history to %s: %s", self.filename, e)

    return LineHistory


def _completer_class():
    from prompt_toolkit.completion import Completer, Completion, PathCompleter
    from prompt_toolkit.document import Document

    class InvokeCompleter(Completer):
        """Completes switches, sampler names after -A, model names after -m and !switch, and file paths
        after -I, -M, -o, !fix and !fetch (also file names in the output folder)."""

        def __init__(self, samplers: Callable[[], list[str]], models: Callable[[], list[str]], outdir: Path):
            self.samplers = samplers
            self.models = models
            self.paths = PathCompleter(expanduser=True)
            self.outputs = PathCompleter(get_paths=lambda: [str(outdir)], file_filter=lambda p: p.endswith(".png"))

        @staticmethod
        def _words(choices: Iterable[str], word: str):
            for choice in choices:
                if choice.startswith(word):
                    yield Completion(choice, start_position=-len(word))

        def get_completions(self, document, complete_event):
            word = document.get_word_before_cursor(WORD=True)
            before = document.text_before_cursor[: len(document.text_before_cursor) - len(word)]
            tokens = before.split()
            prev = tokens[-1] if tokens else ""
            command = tokens[0] if tokens else ""
            if not tokens:
                if word.startswith("!"):
                    yield from self._words(COMMANDS, word)
                return
            if prev in ("-A", "--sampler"):
                yield from self._words(self.samplers(), word)
            elif prev in ("-m", "--model") or (command == "!switch" and len(tokens) == 1):
                yield from self._words(self.models(), word)
            elif prev in ("-I", "--init_img", "-M", "--init_mask", "-o", "--outdir") or (
                command in ("!fix", "!fetch") and len(tokens) == 1
            ):
                sub = Document(word, len(word))
                seen = set()
                for source in (self.paths, self.outputs) if command in ("!fix", "!fetch") else (self.paths,):
                    for c in source.get_completions(sub, complete_event):
                        if c.text not in seen:
                            seen.add(c.text)
                            yield c
            elif word.startswith("-"):
                names = switch_names(FIX_SWITCHES if command == "!fix" else SWITCHES)
                yield from self._words(names, word)

    return InvokeCompleter


# ---------------------------------------------------------------------------------------------
# The command line


class InvokeCLI:
    """Runs ``invoke>`` lines against one ``Generate``: generation lines and ``!`` commands.

    ``execute(line)`` never raises for a user's mistake: it prints one line saying what was wrong
    and returns that message, so both the prompt and ``--from_file`` carry on.
    """

    def __init__(self, gen: Generate, outdir: Path, seamless: bool = False, out: TextIO | None = None,
                 prompt_syntax: str = "invoke") -> None:
        from .metadata import PngWriter

        self.gen = gen
        self.outdir = Path(outdir)
        self.seamless = seamless
        self.prompt_syntax = prompt_syntax
        self.out = out or sys.stdout
        self.writers: dict[Path, PngWriter] = {}
        self.history = _history_class()(str(gen.root / HISTORY_FILE))
        self.pending_default = ""  # text !fetch puts on the next prompt line
        self.interactive = False

    # -- output -------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def writer(self, outdir: Path):
        from .metadata import PngWriter

        outdir = outdir.resolve()
        if outdir not in self.writers:
            self.writers[outdir] = PngWriter(outdir)
        return self.writers[outdir]

    # -- dispatch -----------------------------------------------------------------------------

    def execute(self, line: str, record: bool = True) -> str | None:
        """Runs one line; returns None when it worked, else the one-line error it printed."""
        line = line.strip()
        if not line or line.startswith("#"):
            return None
        if re.fullmatch(r"!\d+", line):
            return self._rerun(int(line[1:]))
        if record and line != "!history":
            self.history.add(line)
        try:
            self.run(line)
        except KeyboardInterrupt:
            return self._error(INTERRUPTED)
        except (InvokeError, OSError) as e:
            return self._error(str(e))
        except Exception as e:  # keep the prompt alive; a bug report needs the traceback, in the log
            log.debug("Unexpected error", exc_info=True)
            return self._error(f"Unexpected {type(e).__name__}: {e}")
        return None

    def _error(self, message: str) -> str:
        message = " ".join(str(message).split())  # one line, whatever the exception held
        self.say(f"Error: {message}")
        return message

    def run(self, line: str) -> None:
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if word == "!help" or line in ("help", "-h", "--help"):
            self.say(help_text())
        elif word == "!history":
            self.show_history()
        elif word == "!models":
            self.show_models()
        elif word == "!switch":
            if not rest:
                raise CommandLineError("Say which model: !switch NAME (!models lists them)")
            self.switch_model(rest)
        elif word == "!fetch":
            self.fetch(rest)
        elif word == "!fix":
            self.fix(rest)
        elif word.startswith("!"):
            raise CommandLineError(f"Unknown command {word}; the commands are {', '.join(COMMANDS)}")
        else:
            self.generate(line)

    def _rerun(self, number: int) -> str | None:
        lines = self.history.lines
        if not 1 <= number <= len(lines):
            return self._error(f"There is no line {number} in the history (it has {len(lines)}); see !history")
        line = lines[number - 1]
        self.say(f">> Line {number}: {line}")
        return self.execute(line)

    # -- commands -----------------------------------------------------------------------------

    def show_history(self) -> None:
        lines = self.history.lines
        if not lines:
            self.say("The history is empty.")
        for number, line in enumerate(lines, 1):
            self.say(f"{number:4d}  {line}")

    def show_models(self) -> None:
        models = self.gen.model_manager.list_models()
        width = max(len(n) for n in models)
        for name, info in models.items():
            mark = "*" if name == self.gen.model_name else " "
            self.say(f"{mark} {name.ljust(width)}  {info['status']:<10}  {info.get('description', '')}")

    def switch_model(self, name: str) -> None:
        self.say(f">> Loading model {name} ...")
        self.gen.set_model(name)
        self.say(f">> Model is now {self.gen.model_name}")
        if self.gen.is_demo_model:
            self.say(DEMO_NOTICE)

    def find_image(self, name: str, field: str = "image", outdir: Path | None = None) -> Path:
        """An ``outputs/...`` URL (as recipes record them) inside the output folder, else a path as
        typed, else the same name in the output folder (where !fetch and !fix usually look)."""
        outdir = outdir or self.outdir
        if is_output_url(name):
            try:
                return resolve_output_url(outdir, name)
            except FileNotFoundError:
                pass  # perhaps a folder of that name under the current one
        path = Path(name).expanduser()
        for candidate in (path, outdir / path):
            if candidate.is_file():
                return candidate.resolve()
        raise CommandLineError(f"No {field} file {name} (looked in {outdir}, {Path.cwd()} and {outdir / path})")

    def input_image(self, name: str, field: str, folder: str, outdir: Path,
                    keep: list[tuple[bytes, Path]]) -> ImageRef:
        """An init image or mask by content, recorded by its ``outputs/...`` URL: a file from outside
        the output folder is to be copied into ``folder`` (added to ``keep``), so the web UI can run
        this recipe too."""
        path = self.find_image(name, field, outdir)
        data = path.read_bytes()
        root = outdir.resolve()
        if not path.is_relative_to(root):
            digest = hashlib.sha256(data).hexdigest()[:8]
            stem = re.sub(r"[^\w.-]+", "_", path.stem)[:80] or "image"
            path = root / folder / f"{stem}.{digest}{path.suffix.lower() or '.png'}"
            keep.append((data, path))
        return ImageRef.from_bytes(data, relative_to_output_url(path.relative_to(root).as_posix()))

    @staticmethod
    def init_picture(index: int, unit: dict[str, Any], prompt: str, switches: dict[str, Any], init: ImageRef | None,
                     mask: ImageRef | None, outdir: Path, keep: list[tuple[bytes, Path]]) -> ImageRef:
        """The picture of a ``--control`` unit without ``image=``: the init image (``-I``) as the request works
        at it, its part to fill (``-M``, or transparent) transparent for inpaint_only; to be kept under
        control-images/ (added to ``keep``) so the recipe names it."""
        from .control.from_init import init_picture

        plain = request_from_switches(prompt, switches, init, mask)  # its size and fit, before any unit
        data = init_picture(f"control[{index}].image", unit.get("preprocessor", "none"), init, mask, plain.width,
                            plain.height, plain.fit)
        path = outdir.resolve() / CONTROL_FOLDER / f"init.{hashlib.sha256(data).hexdigest()[:20]}.png"
        keep.append((data, path))
        return ImageRef.from_bytes(data, relative_to_output_url(path.relative_to(outdir.resolve()).as_posix()))

    @staticmethod
    def keep_inputs(keep: list[tuple[bytes, Path]]) -> None:
        """Writes the pictures a line brought into the output tree, each unless the same bytes are there."""
        for data, path in keep:
            if not path.is_file() or path.read_bytes() != data:
                atomic_write(data, path)

    def _one_path(self, rest: str, command: str, switches: bool) -> tuple[Path, list[str]]:
        words = split_words(rest)
        if not words or words[0].startswith("-"):
            usage = "!fix IMAGE -U 2 0.75 -G 0.8" if switches else "!fetch IMAGE"
            raise CommandLineError(f"Say which image: {usage}")
        if not switches and len(words) > 1:
            raise CommandLineError(f"{command} takes one image; quote a name with spaces")
        return self.find_image(words[0]), words[1:]

    def fetch(self, rest: str) -> None:
        from PIL import Image

        from .metadata import DREAM, dream_command, read_metadata

        path, _ = self._one_path(rest, "!fetch", switches=False)
        with Image.open(path) as im:
            info = dict(im.info)
        meta = read_metadata(path)
        recipe = meta.get("image") or (meta.get("images") or [None])[0]
        command = ""
        if recipe and (recipe.get("init_image_path") or recipe.get("mask_image_path")):
            # The recipe's inputs must still be there, inside the output folder, unchanged.
            GenerationRequest.from_metadata(meta, lambda url: resolve_output_url(self.outdir, url).read_bytes())
        if recipe:
            try:
                command = dream_command(recipe)
            except (KeyError, TypeError, ValueError):
                command = ""
        if not command and info.get(DREAM):
            command = str(info[DREAM]).strip()
        if not command:
            raise CommandLineError(f"{path.name} holds no recipe (no sd-metadata, Dream or parameters text)")
        model = meta.get("model_id")
        if model and model != self.gen.model_name and model in self.gen.model_manager.config():
            command += f" -m {model}"  # the recipe was made with another of our models
        if self.interactive:
            self.pending_default = command
            self.say(f">> The recipe of {path.name} is on the prompt line: edit it, then press Enter.")
        else:
            self.say(command)

    def fix(self, rest: str) -> None:
        from PIL import Image

        from .metadata import read_metadata

        path, tokens = self._one_path(rest, "!fix", switches=True)
        options = parse_switches(tokens, FIX_SWITCHES)
        upscale = options.get("upscale")
        face = options.get("facetool_strength")
        if not upscale and not face:
            raise CommandLineError("Say what to do: -U 2 (or 4) to upscale and/or -G 0.8 to restore faces")
        with Image.open(path) as im:
            im.load()
            image = im.copy()
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        if upscale:
            self.say(f">> Upscaling {path.name} {upscale[0]}x ...")
            image = self.gen.postprocess(image, "esrgan", {"upscale": upscale})
        if face:
            tool = options.get("facetool", "gfpgan")
            self.say(f">> Restoring faces with {tool} ...")
            image = self.gen.postprocess(image, tool, {"facetool_strength": face,
                                                       "codeformer_fidelity": options.get("codeformer_fidelity", 0.75)})
        # The seed in the name is the image's own (a variation's, not its base seed); keep it.
        named = parse_result_name(path.name)
        seed = named[1] if named else (read_metadata(path).get("image") or {}).get("seed") or 0
        outdir = Path(options["outdir"]) if options.get("outdir") else self.outdir
        saved = self.writer(outdir).save_image(image, int(seed), postprocessed=True)
        self.say(f"{saved}: !fix {rest}")

    # -- generation ---------------------------------------------------------------------------

    def _defaults(self) -> dict[str, Any]:
        entry = self.gen.model_manager.config().get(self.gen.model_name, {})
        return {
            "iterations": 1,
            "steps": 50,
            "cfg_scale": 7.5,
            "width": int(entry.get("width", 512)),
            "height": int(entry.get("height", 512)),
            "sampler_name": "k_lms",
            "seamless": self.seamless,
            "prompt_syntax": self.prompt_syntax,
        }

    def generate(self, line: str) -> None:
        from . import metadata as md
        from .control.record import save_result
        from .generator.base import Progress

        parsed = parse_generation_line(line)
        options = dict(parsed.options)
        model = options.pop("model", None)
        outdir = (Path(options.pop("outdir")) if options.get("outdir") else self.outdir).expanduser().resolve()
        init = mask = None
        keep: list[tuple[bytes, Path]] = []  # pictures from outside the output tree, written once the line passes
        if options.get("init_img"):
            init = self.input_image(options.pop("init_img"), "init image", INIT_FOLDER, outdir, keep)
        if options.get("init_mask"):
            mask = self.input_image(options.pop("init_mask"), "mask", MASK_FOLDER, outdir, keep)
        switches = {**self._defaults(), **options}
        controls = tuple(self.input_image(unit["image"], f"control image {i}", CONTROL_FOLDER, outdir, keep)
                         if "image" in unit else
                         self.init_picture(i, unit, parsed.prompt, switches, init, mask, outdir, keep)
                         for i, unit in enumerate(options.get("control") or ()))
        request = request_from_switches(parsed.prompt, switches, init, mask, controls)
        if model and model != self.gen.model_name:
            self.switch_model(model)
        request = self.gen.check(request)
        self.keep_inputs(keep)
        progress = _Progress(request.iterations)
        writer = self.writer(outdir)
        try:
            for done in self.gen.generate(request, Progress(progress.step, preview_every=0), progress.status):
                progress.close()
                path = save_result(writer, md.png_bytes(done.image), done.seed,
                                   [md.png_bytes(m) for m in done.control_maps])
                self.say(f"{path}: {done.image.info.get('Dream', '')}")
                for warning in done.warnings:
                    self.say(f"Warning: {warning}")
                if done.postprocess_error:
                    self.say(f"Error: {path.name} was saved without its postprocessing: {done.postprocess_error}")
                progress.next_image()
        finally:
            progress.close()

    # -- loops --------------------------------------------------------------------------------

    def interactive_loop(self) -> int:
        """The ``invoke>`` prompt until ``q`` or Ctrl-D; prompt_toolkit on a terminal, input() otherwise."""
        use_toolkit = sys.stdin.isatty() and sys.stdout.isatty()
        read = self._toolkit_reader() if use_toolkit else self._plain_reader()
        self.interactive = use_toolkit
        while True:
            try:
                line = read()
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt clears the line, as in a shell
            except EOFError:
                self.say("")
                break
            if line.strip() in QUIT_WORDS:
                break
            self.execute(line)
        self.say("Goodbye.")
        return 0

    def _toolkit_reader(self) -> Callable[[], str]:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.shortcuts import CompleteStyle

        from .samplers import available_samplers

        completer = _completer_class()(available_samplers, lambda: list(self.gen.model_manager.config()),
                                       self.outdir)
        session: PromptSession[str] = PromptSession(
            history=self.history, completer=completer, complete_while_typing=False,
            complete_style=CompleteStyle.READLINE_LIKE,
        )

        def read() -> str:
            default, self.pending_default = self.pending_default, ""
            return session.prompt("invoke> ", default=default)

        return read

    def _plain_reader(self) -> Callable[[], str]:
        def read() -> str:
            print("invoke> ", end="", file=self.out, flush=True)
            line = sys.stdin.readline()
            if not line:
                raise EOFError
            return line

        return read

    def run_file(self, source: str) -> int:
        """``--from_file``: one line per image (``-`` reads stdin); non-zero when any line failed."""
        try:
            if source == "-":
                lines = sys.stdin.read().splitlines()
            else:
                lines = Path(source).read_text(encoding="utf-8").splitlines()
        except OSError as e:
            self.say(f"Error: could not read {source}: {e.strerror or e}")
            return 2
        failures: list[tuple[int, str]] = []
        ran = 0
        for number, line in enumerate(lines, 1):
            if not line.strip() or line.strip().startswith("#"):
                continue
            if line.strip() in QUIT_WORDS:
                break
            ran += 1
            self.say(f"[line {number}] {line.strip()}")
            error = self.execute(line, record=False)
            if error is not None:
                failures.append((number, error))
            if error == INTERRUPTED:
                break  # Ctrl-C stops the batch, not just the line
        if failures:
            self.say(f"{len(failures)} of {ran} lines failed:")
            for number, error in failures:
                self.say(f"  line {number}: {error}")
            return 1
        self.say(f"All {ran} lines ran.")
        return 0


class _Progress:
    """A tqdm bar per image (per pass with --hires_fix), on stderr so the results stay readable."""

    def __init__(self, images: int) -> None:
        self.images = images
        self.index = 1
        self.bar: Any = None
        self.last = 0

    def step(self, step: int, total: int, preview: Any = None) -> None:
        from tqdm import tqdm

        if self.bar is None or step <= self.last:
            self.close()
            label = f"image {self.index}/{self.images}" if self.images > 1 else "generating"
            self.bar = tqdm(total=total, desc=label, unit="step", leave=False, file=sys.stderr, dynamic_ncols=True)
        self.bar.update(step - self.last)
        self.last = step

    def status(self, text: str) -> None:
        if text in ("Upscaling", "Restoring Faces", COMPILING):
            self.close()
            print(f">> {text} ...", file=sys.stderr, flush=True)

    def next_image(self) -> None:
        self.index += 1

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self.last = 0


# ---------------------------------------------------------------------------------------------
# Start-up


def build_arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="invokeai",
        description="The invoke> command line: type a prompt and InvokeAI 2.x switches; !help lists them.",
    )
    add_engine_flags(parser)
    return parser


class _DropEngineDemoWarning(logging.Filter):
    """The CLI prints its own, more visible, demo-model notice."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Using the demo model")


def _quiet_libraries() -> None:
    """Loading a model should print our lines, not the libraries' progress bars and deprecation notes."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"torchvision\.")  # facexlib's old API use
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    for name in ("diffusers", "transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import diffusers.utils.logging as dlog
        import transformers.utils.logging as tlog

        dlog.disable_progress_bar()
        tlog.disable_progress_bar()
    except ImportError:  # pragma: no cover - both ship with the engine
        pass


def main(args: argparse.Namespace | Sequence[str] | None = None) -> int:
    """Starts the CLI. ``args`` is a Namespace from ``invokeai`` (root, outdir, model, precision, device,
    free_gpu_mem, seamless, from_file), a list of command-line words, or None for ``sys.argv``.
    Returns the exit status."""
    if not isinstance(args, argparse.Namespace):
        args = build_arg_parser().parse_args(args)
    use_physical_cores()  # a no-op when `invokeai` has set it already
    logging.basicConfig(level=logging.WARNING, format=">> %(message)s")  # no-op when `invokeai` set it up
    logging.getLogger("ldm.invoke.generate").addFilter(_DropEngineDemoWarning())
    _quiet_libraries()

    from .generate import Generate
    from .globals import outputs_dir, resolve_root

    root = resolve_root(getattr(args, "root", None))
    outdir = Path(getattr(args, "outdir", None) or outputs_dir(root)).expanduser().resolve()
    try:
        gen = Generate(model=getattr(args, "model", None), root=root,
                       precision=getattr(args, "precision", None) or "auto",
                       device=getattr(args, "device", None) or "auto",
                       free_gpu_mem=bool(getattr(args, "free_gpu_mem", False)),
                       compile=bool(getattr(args, "compile", False)),
                       attention=getattr(args, "attention", None) or "auto")
        print(f">> Loading model {gen.model_name} from {root} ...", flush=True)
        gen.load_model()
    except InvokeError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    print(f">> Model {gen.model_name} on {gen.device} ({gen.precision}); images go to {outdir}", flush=True)
    if gen.is_demo_model:
        print(DEMO_NOTICE, flush=True)
    cli = InvokeCLI(gen, outdir, seamless=bool(getattr(args, "seamless", False)),
                    prompt_syntax=getattr(args, "prompt_syntax", None) or "invoke")
    from_file = getattr(args, "from_file", None)
    if from_file:
        return cli.run_file(from_file)
    print(">> Type a prompt and switches, !help for help, q to quit.", flush=True)
    return cli.interactive_loop()


if __name__ == "__main__":
    sys.exit(main())
