"""Issue 21 item 13: face restoration reports each face, stops between faces on cancel, and restores at
most ``max_faces`` (the largest), saying so on the result. The test detector (tests/support) sees one
face per bright disc centred on a multiple of 16 px."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ldm.invoke.errors import GenerationCanceled, InvalidParameterError
from ldm.invoke.restoration.faces import MAX_FACES, FaceRestorer, largest_faces
from tests.support.restoration_weights import face_test_image, write_test_weights

SPOTS = [(64, 64), (192, 64), (320, 64)]  # far apart: each face's paste stays its own
# Each face is a 512x512 network pass (seconds on a shared CPU), so the tests use few faces and a low bound.


@pytest.fixture(scope="module")
def restorer(tmp_path_factory) -> FaceRestorer:
    root = tmp_path_factory.mktemp("faces-root")
    write_test_weights(root, seed=0)
    return FaceRestorer(root, device="cpu")


def many_faces(spots=SPOTS) -> Image.Image:
    image = face_test_image(size=(384, 128), with_face=False)
    draw = ImageDraw.Draw(image)
    for x, y in spots:
        draw.ellipse((x - 8, y - 8, x + 8, y + 8), fill=(255, 255, 255))
    return image


def _changed(before: Image.Image, after: Image.Image, spot: tuple[int, int]) -> bool:
    x, y = spot
    a = np.asarray(before.convert("RGB"))[y - 20:y + 20, x - 20:x + 20].astype(int)
    b = np.asarray(after.convert("RGB"))[y - 20:y + 20, x - 20:x + 20].astype(int)
    return bool(np.abs(a - b).max() > 0)


def test_at_most_max_faces_are_restored_with_a_note_and_progress_per_face(restorer: FaceRestorer) -> None:
    image = many_faces()
    calls: list[tuple[int, int]] = []
    result = restorer.restore(image, "gfpgan", 1.0, progress=lambda done, total: calls.append((done, total)),
                              max_faces=2)
    assert (result.faces_found, result.faces_detected) == (2, 3)
    assert calls == [(0, 2), (1, 2), (2, 2)]
    assert "2 largest of 3 faces" in result.note and "at most 2" in result.note
    changed = [spot for spot in SPOTS if _changed(image, result.image, spot)]
    assert len(changed) == 2, changed  # the third face is untouched


def test_a_cancel_between_faces_stops_and_leaves_the_restorer_clean(restorer: FaceRestorer) -> None:
    seen: list[tuple[int, int]] = []

    def cancel_after_one(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 1:
            raise GenerationCanceled("canceled")

    with pytest.raises(GenerationCanceled):
        restorer.restore(many_faces(), "gfpgan", 1.0, progress=cancel_after_one)
    assert seen == [(0, 3), (1, 3)]  # under the default bound all 3 were due; none ran after the cancel
    # The next picture starts afresh (no faces left over), through the positional signature of before.
    single = restorer.restore(face_test_image(), "gfpgan", 0.5, 0.75)
    assert (single.faces_found, single.faces_detected) == (1, 1) and single.note == "Restored 1 face with GFPGAN."


def test_the_default_bound_is_twenty_and_a_bad_one_is_refused(restorer: FaceRestorer) -> None:
    assert MAX_FACES == 20
    assert inspect.signature(FaceRestorer.restore).parameters["max_faces"].default == 20
    for bad in (0, -1, 2.5, True):
        with pytest.raises(InvalidParameterError):
            restorer.restore(face_test_image(), "gfpgan", 1.0, max_faces=bad)


def test_the_largest_faces_are_the_ones_kept() -> None:
    boxes = [[0, 0, 10, 10, 0.99], [0, 0, 50, 40, 0.98], [5, 5, 25, 25, 0.99], [0, 0, 50, 40, 0.999],
             [0, 0, 30, 30, 0.97]]
    assert largest_faces(boxes, 2) == [1, 3]
    assert largest_faces(boxes, 3) == [1, 3, 4]
    assert largest_faces(boxes, 10) == [0, 1, 2, 3, 4]


