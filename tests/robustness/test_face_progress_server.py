"""Issue 21 item 13 at the server: a face restoration over Socket.IO tells each face as it starts
("Restoring faces 2/3"), and a cancel between faces stops it: no result, the picture it was asked to
restore is kept as it was. Upstream-shaped random detector and GFPGAN weights (tests/support)."""

from __future__ import annotations

import urllib.request
from io import BytesIO

from tests.robustness.test_face_bound import SPOTS, many_faces


def face_statuses(client, job_id: str) -> list[str]:
    """The job's "Restoring faces d/t" texts in the order they came, each once."""
    seen: list[str] = []
    for update in client.of("progressUpdate"):
        text = update["currentStatus"]
        if update.get("jobId") == job_id and text.startswith("Restoring faces") and text not in seen:
            seen.append(text)
    return seen


def test_each_face_is_told_as_it_starts_and_a_cancel_between_faces_keeps_the_picture(server, connect):
    client = connect(server.url)
    buffer = BytesIO()
    many_faces().save(buffer, format="PNG")
    original = client.call("uploadImage", buffer.getvalue(), "three-faces.png", "img2img")
    faces = len(SPOTS)

    job_id = client.call("runPostprocessing", original, {"type": "gfpgan", "facetool_strength": 0.8})["jobId"]
    result = client.wait_for("postprocessingResult", lambda d: d.get("jobId") == job_id, timeout=300)[0]
    assert face_statuses(client, job_id) == [f"Restoring faces {n}/{faces}" for n in range(1, faces + 1)]
    assert result["metadata"]["image"]["postprocessing"][-1]["faces"] == faces

    mark = client.mark()
    job_id = client.call("runPostprocessing", original, {"type": "gfpgan", "facetool_strength": 0.8})["jobId"]
    client.wait_for("progressUpdate", lambda d: d.get("jobId") == job_id
                    and d["currentStatus"] == f"Restoring faces 2/{faces}", after=mark, timeout=300)
    client.emit("cancel", job_id)
    client.wait_for("processingCanceled", lambda d: d.get("jobId") == job_id, after=mark, timeout=120)
    last = client.wait_for("progressUpdate", lambda d: d.get("jobId") == job_id and not d["isProcessing"],
                           after=mark, timeout=30)[0]
    assert last["currentStatus"] == "Canceled"
    assert face_statuses(client, job_id) == [f"Restoring faces 1/{faces}", f"Restoring faces 2/{faces}"]
    assert not [d for d in client.of("postprocessingResult") if d.get("jobId") == job_id]
    with urllib.request.urlopen(f"{server.url}/{original['url']}") as response:
        assert response.read() == buffer.getvalue()  # the picture it was asked to restore is untouched
