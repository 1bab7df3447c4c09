"""Face restoration with GFPGAN or CodeFormer, using only weight files from the root dir.

``FaceRestorer(root, device).restore(image, tool, strength, fidelity=0.75)`` returns a
``RestoreResult``: ``.image`` (a PIL image of the input's size: RGB, or RGBA with the input's alpha),
``.faces_found`` (how many faces were restored; 0 means the image came back unchanged),
``.faces_detected`` (how many were found) and ``.note`` (a sentence for the user, e.g. "No face was
found; the image is unchanged.").

Each face costs a 512x512 network pass, and a busy picture (or a poor detector) can report dozens, so
the work is bounded: at most ``max_faces`` faces (default ``MAX_FACES``, the largest ones) are
restored, and the note says when more were found; ``progress(done, total)`` is called once the faces
are known (``done`` 0) and after each face, and an exception raised from it (a cancel) stops the
restoration between faces, as the upscaler's per-tile progress does.

The pipeline is facexlib's: RetinaFace finds faces and their five landmarks, each face is aligned to a
512x512 crop, restored by the chosen network, and pasted back through a soft ParseNet face mask.
``strength`` blends the restored image with the input (0 returns the input untouched, without running
anything); ``fidelity`` is CodeFormer's ``w`` (0 favours quality, 1 favours likeness to the input).
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ldm.invoke.errors import InvalidParameterError, ModelLoadError
from ldm.invoke.request import MAX_FACES

from . import _basicsr_compat  # noqa: F401  (must come before anything imports basicsr)
from ._pixels import blend, has_alpha
from .weights import FACE_TOOL_FILES, brief, load_state_dict, require_weights, weight_path

log = logging.getLogger(__name__)

FACE_SIZE = 512
# Faces whose eyes are closer than this (pixels) are side views or specks; restoring them does harm.
MIN_EYE_DISTANCE = 5
# Detection runs on a copy scaled to this short side when the image is larger (as CodeFormer does);
# RetinaFace at full size on a big image is slow and finds nothing more.
DETECTION_SIDE = 640
# At most this many faces are restored in one picture (the largest); the rest are left as they are.


@dataclass(frozen=True)
class RestoreResult:
    """The outcome of one restoration: the image, how many faces were restored, and a note."""

    image: Image.Image
    faces_found: int
    note: str = ""
    faces_detected: int = -1  # how many the detector found; -1 (unset) means faces_found

    def __post_init__(self) -> None:
        if self.faces_detected < 0:
            object.__setattr__(self, "faces_detected", self.faces_found)


def largest_faces(boxes: Sequence[Sequence[float]], limit: int) -> list[int]:
    """Indexes (in detection order) of the ``limit`` largest boxes ``[x1, y1, x2, y2, score]``;
    equal sizes go to the higher score, then to the earlier detection."""
    def key(i: int) -> tuple[float, float, int]:
        x1, y1, x2, y2 = (float(v) for v in boxes[i][:4])
        score = float(boxes[i][4]) if len(boxes[i]) > 4 else 0.0
        return (-(max(0.0, x2 - x1) * max(0.0, y2 - y1)), -score, i)

    return sorted(sorted(range(len(boxes)), key=key)[: max(0, limit)])


def _count(state_dict: dict[str, torch.Tensor], pattern: str) -> int:
    return len([k for k in state_dict if re.fullmatch(pattern, k)])


def build_gfpgan(state_dict: dict[str, torch.Tensor], path: Path) -> torch.nn.Module:
    """GFPGANv1Clean (the network of GFPGAN 1.3 and 1.4) with its sizes read from the state dict."""
    from gfpgan.archs.gfpganv1_clean_arch import GFPGANv1Clean

    try:
        num_style_feat = state_dict["stylegan_decoder.style_mlp.1.weight"].shape[0]
        narrow = state_dict["stylegan_decoder.constant_input.weight"].shape[1] / 512
        # The U-Net's first conv has 32 * channel_multiplier * narrow / 2 channels.
        channel_multiplier = round(state_dict["conv_body_first.weight"].shape[0] / (16 * narrow))
        log_size = _count(state_dict, r"conv_body_down\.\d+\.conv1\.weight") + 2
        scale_in = state_dict["condition_scale.0.0.weight"].shape[0]
        network = GFPGANv1Clean(
            out_size=2**log_size,
            num_style_feat=num_style_feat,
            channel_multiplier=channel_multiplier,
            decoder_load_path=None,
            fix_decoder=False,
            num_mlp=_count(state_dict, r"stylegan_decoder\.style_mlp\.\d+\.weight"),
            input_is_latent=True,
            different_w=state_dict["final_linear.weight"].shape[0] != num_style_feat,
            narrow=narrow,
            sft_half=state_dict["condition_scale.0.2.weight"].shape[0] == scale_in,
        )
        network.load_state_dict(state_dict, strict=True)
    except (KeyError, RuntimeError, ValueError, ZeroDivisionError) as error:
        raise ModelLoadError(
            f"{path} is not a GFPGAN 1.3/1.4 weight file ({brief(error)}). Replace it with GFPGANv1.4.pth."
        ) from error
    return network.eval()


def build_codeformer(state_dict: dict[str, torch.Tensor], path: Path) -> torch.nn.Module:
    """CodeFormer through spandrel's maintained architecture, which reads its sizes from the state dict."""
    from spandrel_extra_arches.architectures.CodeFormer import CodeFormerArch

    architecture = CodeFormerArch()
    if not architecture.detect(state_dict):
        raise ModelLoadError(f"{path} is not a CodeFormer weight file. Replace it with codeformer.pth.")
    try:
        descriptor = architecture.load(state_dict)
    except (KeyError, RuntimeError, ValueError) as error:
        raise ModelLoadError(f"{path} does not match the CodeFormer network ({brief(error)}).") from error
    return descriptor.model.eval()


def _split_alpha(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    if has_alpha(image):
        rgba = image.convert("RGBA")
        return rgba.convert("RGB"), rgba.getchannel("A")
    return image.convert("RGB"), None


class FaceRestorer:
    """GFPGAN and CodeFormer face restoration; networks are loaded once per instance and kept."""

    TOOLS = tuple(FACE_TOOL_FILES)

    def __init__(self, root: Path | str, device: str | torch.device = "cpu") -> None:
        self.root = Path(root)
        self.device = torch.device(device)
        self._networks: dict[str, torch.nn.Module] = {}
        self._helper: Any = None  # facexlib's FaceRestoreHelper, holding detector and parser
        self._helper_device: torch.device | None = None
        self._lock = threading.Lock()

    def restore(
        self, image: Image.Image, tool: str, strength: float, fidelity: float = 0.75, *,
        progress: Callable[[int, int], None] | None = None, max_faces: int = MAX_FACES,
    ) -> RestoreResult:
        """Restore the faces in `image` with `tool` ('gfpgan' or 'codeformer').

        At most `max_faces` faces (the largest) are restored. `progress(done, total)` is called with
        0 once the faces are found and after each face; whatever it raises (GenerationCanceled)
        stops the restoration between faces and propagates, leaving the restorer ready for the next.
        Raises MissingWeightsError naming the first absent weight file the tool needs.
        """
        if tool not in self.TOOLS:
            raise InvalidParameterError(
                "facetool", f"the face tool must be gfpgan or codeformer, not {tool!r}."
            )
        if not 0.0 <= strength <= 1.0:
            raise InvalidParameterError(
                "facetool_strength",
                f"the face restoration strength must be between 0 and 1, not {strength!r}.",
            )
        if not 0.0 <= fidelity <= 1.0:
            raise InvalidParameterError(
                "codeformer_fidelity", f"the CodeFormer fidelity must be between 0 and 1, not {fidelity!r}."
            )
        if isinstance(max_faces, bool) or not isinstance(max_faces, int) or max_faces < 1:
            raise InvalidParameterError("max_faces", f"at most how many faces: a whole number from 1, not {max_faces!r}.")
        if strength == 0.0:
            return RestoreResult(image.copy(), 0, "Face restoration strength is 0; the image is unchanged.")
        for key in FACE_TOOL_FILES[tool]:
            require_weights(self.root, key)

        rgb, alpha = _split_alpha(image)
        with self._lock:
            restored, faces, detected = self._restore_rgb(np.asarray(rgb), tool, fidelity, progress, max_faces)
        if faces == 0:
            note = "No face was found; the image is unchanged."
            log.info("%s: %s", tool, note)
            return RestoreResult(image.copy(), 0, note)

        result = blend(np.asarray(rgb), restored, strength)
        if alpha is not None:
            result.putalpha(alpha)
        name = {"gfpgan": "GFPGAN", "codeformer": "CodeFormer"}[tool]
        note = f"Restored {faces} face{'s' if faces != 1 else ''} with {name}."
        if detected > faces:
            note = (f"Restored the {faces} largest of {detected} faces found with {name} (at most {max_faces} "
                    "are restored in one picture); the others are unchanged.")
        log.info(note)
        return RestoreResult(result, faces, note, detected)

    def offload(self) -> None:
        """Move the loaded networks to the CPU (for --free_gpu_mem); the next restore moves them back."""
        with self._lock:
            self._place(torch.device("cpu"))
            if self.device.type == "cuda":
                torch.cuda.empty_cache()

    # -- internals ------------------------------------------------------------------------------

    def _restore_rgb(
        self, rgb: np.ndarray, tool: str, fidelity: float,
        progress: Callable[[int, int], None] | None = None, max_faces: int = MAX_FACES,
    ) -> tuple[np.ndarray, int, int]:
        # Load and place the networks outside inference mode: parameters created inside it could
        # not be moved between devices later (offload).
        network = self._network(tool)
        helper = self._face_helper()
        self._place(self.device)
        try:
            with torch.inference_mode():
                return self._detect_restore_paste(helper, network, rgb, tool, fidelity, progress, max_faces)
        finally:
            helper.clean_all()  # a cancel between faces must not leave faces for the next picture

    def _detect_restore_paste(
        self, helper: Any, network: torch.nn.Module, rgb: np.ndarray, tool: str, fidelity: float,
        progress: Callable[[int, int], None] | None = None, max_faces: int = MAX_FACES,
    ) -> tuple[np.ndarray, int, int]:
        # facexlib works on BGR arrays, as OpenCV does.
        helper.clean_all()
        helper.read_image(np.ascontiguousarray(rgb[:, :, ::-1]))
        height, width = rgb.shape[:2]
        faces = helper.get_face_landmarks_5(
            only_center_face=False,
            resize=DETECTION_SIDE if min(height, width) > DETECTION_SIDE else None,
            eye_dist_threshold=MIN_EYE_DISTANCE,
        )
        if not faces:
            return rgb, 0, 0
        detected = len(helper.all_landmarks_5)
        if detected > max_faces:
            keep = largest_faces(helper.det_faces, max_faces)
            helper.det_faces = [helper.det_faces[i] for i in keep]
            helper.all_landmarks_5 = [helper.all_landmarks_5[i] for i in keep]
            log.info("%d faces found; restoring the %d largest.", detected, max_faces)
        total = len(helper.all_landmarks_5)
        if progress is not None:
            progress(0, total)
        helper.align_warp_face()
        for done, cropped in enumerate(helper.cropped_faces, start=1):
            helper.add_restored_face(self._restore_face(network, tool, cropped, fidelity))
            if progress is not None:
                progress(done, total)
        helper.get_inverse_affine(None)
        pasted = helper.paste_faces_to_input_image()
        return np.ascontiguousarray(pasted[:, :, ::-1]), total, detected

    def _restore_face(
        self, network: torch.nn.Module, tool: str, face_bgr: np.ndarray, fidelity: float
    ) -> np.ndarray:
        """Run the network on one aligned 512x512 BGR face; returns the restored face as BGR uint8."""
        pixels = torch.from_numpy(np.ascontiguousarray(face_bgr[:, :, ::-1])).to(self.device)
        pixels = pixels.permute(2, 0, 1).unsqueeze(0).float().div(127.5).sub(1.0)  # -1..1, as trained
        if tool == "gfpgan":
            # Fixed noise buffers instead of fresh noise: the same input gives the same pixels.
            output = network(pixels, return_rgb=False, randomize_noise=False)[0]
        else:
            output = network(pixels, weight=fidelity)[0]
        output = torch.nan_to_num(output[0].float()).clamp(-1.0, 1.0).add(1.0).mul(127.5).round()
        return np.ascontiguousarray(output.byte().permute(1, 2, 0).cpu().numpy()[:, :, ::-1])

    def _network(self, tool: str) -> torch.nn.Module:
        network = self._networks.get(tool)
        if network is None:
            path = require_weights(self.root, tool)
            builder = build_gfpgan if tool == "gfpgan" else build_codeformer
            network = builder(load_state_dict(path), path)
            log.info("Loaded %s from %s", tool, path)
            self._networks[tool] = network
        return network

    def _face_helper(self) -> Any:
        if self._helper is None:
            from facexlib.utils.face_restoration_helper import FaceRestoreHelper

            # facexlib downloads a weight file it cannot find in model_rootpath. Both files were
            # checked above, so pointing it at the root's folder means it only ever reads them.
            for key in ("face_detection", "face_parsing"):
                require_weights(self.root, key)
            model_dir = weight_path(self.root, "face_detection").parent
            try:
                with warnings.catch_warnings():
                    # RetinaFace asks torchvision for resnet50(pretrained=False), which only warns that
                    # the argument is deprecated; the user can do nothing about it.
                    warnings.filterwarnings("ignore", category=UserWarning, module=r"torchvision\.models")
                    self._helper = FaceRestoreHelper(
                        1,
                        face_size=FACE_SIZE,
                        crop_ratio=(1, 1),
                        det_model="retinaface_resnet50",
                        save_ext="png",
                        use_parse=True,
                        device=self.device,
                        model_rootpath=str(model_dir),
                    )
            except Exception as error:
                # An unreadable file, another network's weights, a bad pickle: the fix is the same.
                raise ModelLoadError(
                    f"The face detection or parsing weights in {model_dir} do not match facexlib's networks "
                    f"({brief(error)}). Run `invokeai-configure` to replace them."
                ) from error
            self._helper_device = self.device
        return self._helper

    def _place(self, device: torch.device) -> None:
        """Move every loaded network to `device`, including facexlib's, which remember their device."""
        for network in self._networks.values():
            network.to(device)
        helper = self._helper
        if helper is None or self._helper_device == device:
            return
        detector = helper.face_det
        detector.to(device)
        detector.device = device
        detector.mean_tensor = detector.mean_tensor.to(device)
        helper.face_parse.to(device)
        helper.device = device
        self._helper_device = device
