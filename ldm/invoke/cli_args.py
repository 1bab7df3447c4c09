"""Parsing one ``invoke>`` line: a prompt followed by InvokeAI 2.x switches, translated into a
``GenerationRequest`` (whose limits the switches take)."""

from __future__ import annotations

import argparse
import difflib
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from .errors import InvokeError
from .request import DEFAULT_HIRES_PASS, LIMITS, BoundingBox, ControlUnit, GenerationRequest, ImageRef

# A token that starts a switch: one or two dashes and a letter (so "-0.5" stays prompt text).
_SWITCH = re.compile(r"^--?[A-Za-z]")

# InvokeAI 2.x switches this version does not have, with what to do instead.
UNSUPPORTED = {
    "-g": "grids are not made; each image is saved on its own",
    "--grid": "grids are not made; each image is saved on its own",
    "--embiggen": "use -U 2 or -U 4 (Real-ESRGAN) to enlarge",
    "-embiggen": "use -U 2 or -U 4 (Real-ESRGAN) to enlarge",
    "-c": "outcropping is done in the web UI's canvas",
    "--outcrop": "outcropping is done in the web UI's canvas",
    "-tm": "text masks are not supported; give a mask file with -M",
    "--text_mask": "text masks are not supported; give a mask file with -M",
    "-save_orig": "only the postprocessed image is kept; run !fix on a saved image to keep both",
    "--save_original": "only the postprocessed image is kept; run !fix on a saved image to keep both",
}


class CommandLineError(InvokeError):
    """A line typed at ``invoke>`` could not be understood; the message says why and what to type."""


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a whole number, got {text!r}") from None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a number, got {text!r}") from None


def parse_box(text: str) -> dict[str, int]:
    """``X,Y,W,H`` (the region an inpaint works on) into a bounding box."""
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects X,Y,WIDTH,HEIGHT in px, got {text!r}") from None
    return {"x": x, "y": y, "width": w, "height": h}


# ``--control`` keys: the unit's fields; any other key is a setting of its preprocessor.
CONTROL_KEYS = {"model": str, "image": str, "preprocessor": str, "weight": float, "start": float, "end": float,
                "mode": str, "resize": str, "hires_pass": str}


def parse_control(text: str) -> dict[str, Any]:
    """``model=NAME[,image=PATH,preprocessor=canny,weight=0.8,start=0,end=1,mode=balanced,resize=crop,
    hires_pass=both,low_threshold=100]`` into the fields of one control unit (the image still a path; without
    one the unit takes the init image)."""
    unit: dict[str, Any] = {"settings": {}}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not value:
            raise argparse.ArgumentTypeError(f"expects key=value pairs (model=NAME,image=PATH,...), got {part!r}")
        kind = CONTROL_KEYS.get(key)
        try:
            if kind is None:
                number = float(value)
                unit["settings"][key] = int(number) if number.is_integer() else number
            else:
                unit[key] = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{key} expects a number, got {value!r}") from None
    if "model" not in unit:  # without image= the unit takes the init image (-I)
        raise argparse.ArgumentTypeError("needs model= (e.g. model=control_v11p_sd15_canny,image=edges.png)")
    return unit


def _range(name: str) -> str:
    limit = LIMITS[name]
    return f"{limit.lo:g}-{limit.hi:g}"


def parse_variations(text: str) -> list[tuple[int, float]]:
    """``seed:weight,seed:weight`` (InvokeAI 2.x's -V) into pairs."""
    pairs = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        seed, sep, weight = part.partition(":")
        try:
            if not sep:
                raise ValueError
            pairs.append((int(seed), float(weight)))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expects seed:weight pairs separated by commas (e.g. 1234:0.1,5678:0.2), got {text!r}"
            ) from None
    return pairs


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so the prompt keeps running."""

    def error(self, message: str):  # type: ignore[override]
        raise CommandLineError(_reword(message))


def _reword(message: str) -> str:
    """argparse's "argument -s/--steps: expected one argument" as "-s/--steps needs a value"."""
    m = re.match(r"argument (\S+): (.*)$", message)
    if not m:
        return message[:1].upper() + message[1:]
    detail = {"expected one argument": "needs a value",
              "expected at least one argument": "needs a value"}.get(m.group(2), m.group(2))
    return f"{m.group(1)} {detail}"


@dataclass(frozen=True)
class Switch:
    flags: tuple[str, ...]
    dest: str
    help: str
    kind: Any = str  # a type function, "flag" for on/off switches, or "upscale"
    metavar: str | None = None


# The switches of a generation line, in the order !help lists them.
SWITCHES: tuple[Switch, ...] = (
    Switch(("-s", "--steps"), "steps", f"number of sampling steps ({_range('steps')})", _whole, "STEPS"),
    Switch(("-S", "--seed"), "seed", "seed (-1 or none: random)", _whole, "SEED"),
    Switch(("-n", "--iterations"), "iterations", f"how many images to make ({_range('iterations')})", _whole, "N"),
    Switch(("-W", "--width"), "width", f"image width, a multiple of 8 ({_range('width')})", _whole, "PX"),
    Switch(("-H", "--height"), "height", f"image height, a multiple of 8 ({_range('height')})", _whole, "PX"),
    Switch(("-C", "--cfg_scale"), "cfg_scale", "how closely to follow the prompt", _number, "SCALE"),
    Switch(("-A", "--sampler"), "sampler_name", "sampler (TAB lists them)", str, "SAMPLER"),
    Switch(("-m", "--model"), "model", "switch to this model (it stays the current one)", str, "MODEL"),
    Switch(("-v", "--variation_amount"), "variation_amount", "make variations of the seed (0-1)", _number, "AMOUNT"),
    Switch(("-V", "--with_variations"), "with_variations", "variations to apply, seed:weight,seed:weight",
           parse_variations, "PAIRS"),
    Switch(("-I", "--init_img"), "init_img", "init image for image to image", str, "FILE"),
    Switch(("-f", "--strength"), "strength", "image to image strength (0-1)", _number, "STRENGTH"),
    Switch(("-T", "-fit", "--fit"), "fit", "scale the init image to fit -W x -H", "flag"),
    Switch(("-M", "--init_mask"), "init_mask", "mask for inpainting (white: regenerate)", str, "FILE"),
    Switch(("-r", "--inpaint_replace"), "inpaint_replace", "how fully to replace the masked area (0-1)",
           _number, "AMOUNT"),
    Switch(("--seam_size",), "seam_size",
           f"px outside the mask where new pixels blend into old ({_range('seam_size')}, default 8)", _whole, "PX"),
    Switch(("--bounding_box",), "bounding_box", "inpaint only this region of the init image", parse_box,
           "X,Y,W,H"),
    Switch(("-G", "--gfpgan_strength", "--facetool_strength"), "facetool_strength",
           "restore faces with this strength (0-1)", _number, "STRENGTH"),
    Switch(("-ft", "--facetool"), "facetool", "face tool: gfpgan or codeformer", str, "TOOL"),
    Switch(("-cf", "--codeformer_fidelity"), "codeformer_fidelity", "CodeFormer fidelity (0-1)", _number,
           "FIDELITY"),
    Switch(("-U", "--upscale"), "upscale", "upscale: level (2 or 4) and optional strength", "upscale",
           "LEVEL [STRENGTH]"),
    Switch(("--seamless",), "seamless", "tile seamlessly", "flag"),
    Switch(("--hires_fix",), "hires_fix", "two passes for large images", "flag"),
    Switch(("--hires_strength",), "hires_strength", "strength of the hires fix's second pass (0-1)", _number,
           "STRENGTH"),
    Switch(("--perlin",), "perlin", "mix in Perlin noise (0-1)", _number, "AMOUNT"),
    Switch(("--threshold",), "threshold", "CFG threshold", _number, "VALUE"),
    Switch(("--clip_skip",), "clip_skip", "skip the text encoder's last layers (0: none)", _whole, "N"),
    Switch(("--prompt_syntax", "--prompt-syntax"), "prompt_syntax",
           "read this line's prompt as invoke (a:1.2 [negative]) or a1111 ((a:1.2) [less] [from:to:when])", str,
           "SYNTAX"),
    Switch(("--negative_prompt", "--negative-prompt"), "negative_prompt", "the negative prompt (quote it)", str,
           "TEXT"),
    Switch(("--control",), "control", "a ControlNet unit (repeatable): model=NAME[,image=FILE (else the -I image),preprocessor=canny,"
           "weight=1,start=0,end=1,mode=balanced,resize=crop,hires_pass=both]", "control", "UNIT"),
    Switch(("-o", "--outdir"), "outdir", "save this line's images in another folder", str, "DIR"),
)

# Switches of ``!fix``: the postprocessing subset.
FIX_SWITCHES: tuple[Switch, ...] = tuple(s for s in SWITCHES if s.dest in
                                         ("facetool_strength", "facetool", "codeformer_fidelity", "upscale", "outdir"))


def _build_parser(switches: tuple[Switch, ...], prog: str) -> _Parser:
    parser = _Parser(prog=prog, add_help=False, allow_abbrev=False)
    for s in switches:
        if s.kind == "flag":
            parser.add_argument(*s.flags, dest=s.dest, action="store_true", default=None)
        elif s.kind == "upscale":
            parser.add_argument(*s.flags, dest=s.dest, nargs="+", type=_number, metavar=s.metavar)
        elif s.kind == "control":
            parser.add_argument(*s.flags, dest=s.dest, action="append", type=parse_control, metavar=s.metavar)
        else:
            parser.add_argument(*s.flags, dest=s.dest, type=s.kind, metavar=s.metavar)
    return parser


def switch_names(switches: tuple[Switch, ...] = SWITCHES) -> list[str]:
    return [flag for s in switches for flag in s.flags]


def _check_known(tokens: list[str], switches: tuple[Switch, ...]) -> None:
    """Unknown switches are errors with the closest known one as a hint, never silently dropped."""
    known = switch_names(switches)
    takes_value = {f for s in switches if s.kind != "flag" for f in s.flags if len(f) == 2}
    for token in tokens:
        if not _SWITCH.match(token) or token in known:
            continue
        if "=" in token and token.split("=", 1)[0] in known:
            continue  # --steps=20
        if token[:2] in takes_value and not token.startswith("--"):
            continue  # -s20, as InvokeAI 2.x users type it
        if token in UNSUPPORTED:
            raise CommandLineError(f"{token} is not supported here: {UNSUPPORTED[token]}.")
        close = difflib.get_close_matches(token, known, n=1, cutoff=0.5)
        if not close:
            close = difflib.get_close_matches(token.lower(), [k.lower() for k in known], n=1, cutoff=0.5)
            close = [k for k in known if close and k.lower() == close[0]][:1]
        hint = f"; did you mean {close[0]}?" if close else ""
        raise CommandLineError(f"Unknown switch {token}{hint} Type !help for the list.")


def _finish(values: dict[str, Any]) -> dict[str, Any]:
    options = {k: v for k, v in values.items() if v is not None}
    if "upscale" in options:
        up = options["upscale"]
        if len(up) > 2:
            raise CommandLineError("-U takes a level (2 or 4) and an optional strength, e.g. -U 2 0.75")
        level = up[0]
        if level != int(level):
            raise CommandLineError(f"-U level must be 2 or 4, got {level:g}")
        options["upscale"] = [int(level), up[1] if len(up) == 2 else 0.75]
    return options


@dataclass
class ParsedLine:
    """A generation line: the prompt text and the switches the user gave (only those)."""

    prompt: str
    options: dict[str, Any] = field(default_factory=dict)


def split_words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as e:
        raise CommandLineError(f"Could not read the line: {e} (check the quotes)") from None


def split_prompt(line: str) -> tuple[str, list[str]]:
    """The prompt and the switch tokens after it.

    As in InvokeAI 2.x the prompt may be quoted (``"a cat" -s 20``) or not (``a cat -s 20``);
    an unquoted prompt may hold apostrophes (``a cat's toy -s 20``), so when the whole line
    does not split as shell words, only the part from the first switch on is split.
    """
    try:
        words = shlex.split(line)
    except ValueError:
        words = None
    if words is not None:
        first = next((i for i, w in enumerate(words) if _SWITCH.match(w)), len(words))
        return " ".join(words[:first]), words[first:]
    if line.lstrip()[:1] in ("'", '"'):
        split_words(line)  # raises with the quoting problem
    match = re.search(r"(?:^|\s)(--?[A-Za-z])", line)
    if not match:
        return line.strip(), []
    start = match.start(1)
    return line[:start].strip(), split_words(line[start:])


_GENERATE_PARSER = _build_parser(SWITCHES, "invoke>")
_FIX_PARSER = _build_parser(FIX_SWITCHES, "!fix")


def parse_switches(tokens: list[str], switches: tuple[Switch, ...] = SWITCHES) -> dict[str, Any]:
    _check_known(tokens, switches)
    parser = _GENERATE_PARSER if switches is SWITCHES else _FIX_PARSER if switches is FIX_SWITCHES \
        else _build_parser(switches, "invoke>")
    try:
        namespace, extra = parser.parse_known_args(tokens)
    except argparse.ArgumentError as e:
        raise CommandLineError(_reword(str(e))) from None
    if extra:
        raise CommandLineError(f"Unexpected {' '.join(extra)!r} after the switches; put the whole prompt "
                               "first, in quotes if it has dashes")
    return _finish(vars(namespace))


def parse_generation_line(line: str) -> ParsedLine:
    """``a cat -s 20 -S 42`` → ``ParsedLine('a cat', {'steps': 20, 'seed': 42})``."""
    prompt, tokens = split_prompt(line)
    if not prompt.strip():
        raise CommandLineError("Type a prompt before the switches, e.g. \"a red apple\" -s 20 (!help for more)")
    return ParsedLine(prompt, parse_switches(tokens))


def help_text() -> str:
    def left(s: Switch) -> str:
        return ", ".join(s.flags[:1] + s.flags[-1:] if len(s.flags) > 1 else s.flags) + (f" {s.metavar}" if s.metavar else "")

    width = max(len(left(s)) for s in SWITCHES)
    lines = ["Type a prompt, then switches (InvokeAI 2.x style), e.g.:",
             '  "a red apple on a table" -s 30 -S 42 -W 512 -H 512 -A k_euler_a',
             "", "Switches:"]
    for s in SWITCHES:
        lines.append(f"  {left(s).ljust(width)}  {s.help}")
    lines += [
        "",
        "Commands:",
        "  !fix IMAGE -U 2 0.75 -G 0.8 -ft gfpgan   upscale and/or restore faces of a saved image",
        "  !fetch IMAGE      put an image's recipe on the prompt line to edit and run",
        "  !history          list earlier lines;  !N runs line N again",
        "  !switch MODEL     change the model;  !models lists them",
        "  !help             this text;  q (or Ctrl-D) quits",
        "",
        "A line's switches apply to that line only, except -m, which changes the current model.",
    ]
    return "\n".join(lines)


def request_from_switches(prompt: str, options: dict[str, Any], init_image: ImageRef | None = None,
                          init_mask: ImageRef | None = None, control_images: tuple[ImageRef, ...] = ()
                          ) -> GenerationRequest:
    """A generation line's switches (already parsed, defaults merged) as the request they mean; the
    init image, mask and control images come already read (the CLI decides where they live)."""
    values = {k: v for k, v in options.items() if k not in ("init_img", "init_mask", "model", "outdir", "control")}
    units = []
    for unit, image in zip(options.get("control") or (), control_images):
        units.append(ControlUnit(model=unit["model"], image=image, preprocessor=unit.get("preprocessor", "none"),
                                 settings=unit["settings"], weight=unit.get("weight", 1.0),
                                 start=unit.get("start", 0.0), end=unit.get("end", 1.0),
                                 control_mode=unit.get("mode", "balanced"), resize_mode=unit.get("resize", "crop"),
                                 hires_pass=unit.get("hires_pass", DEFAULT_HIRES_PASS)))
    values["control"] = tuple(units)
    if "with_variations" in values:
        values["with_variations"] = tuple((int(s), float(w)) for s, w in values["with_variations"])
    if "upscale" in values:
        level, strength = values["upscale"]
        values["upscale"] = (level, strength)
    if "bounding_box" in values:
        values["bounding_box"] = BoundingBox(**values["bounding_box"])
    if values.get("seed") == -1:
        values["seed"] = None
    return GenerationRequest(prompt=prompt, init_image=init_image, init_mask=init_mask, **values).validate()
