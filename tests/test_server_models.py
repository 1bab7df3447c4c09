"""Model management over the protocol (our additions): scan an AUTOMATIC1111 tree, import a file,
delete an entry (the file stays), and switch to what was added."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from tests.support.tiny_checkpoints import build_tiny_pipeline, write_checkpoint


@pytest.fixture(scope="module")
def a1111_tree(tmp_path_factory) -> Path:
    top = tmp_path_factory.mktemp("a1111")
    pipe = build_tiny_pipeline("sd1", seed=3)
    write_checkpoint(pipe, "sd1", top / "models" / "Stable-diffusion" / "tiny-scanned.safetensors")
    write_checkpoint(pipe, "sd1", top / "loose" / "tiny-imported.safetensors")
    return top


def test_scan_import_switch_and_delete_models_over_the_protocol(server_factory, connect, a1111_tree):
    server = server_factory()
    assert server.studio.wait_until_loaded(120)
    client, other = connect(server.url), connect(server.url)

    client.emit("scanModelFolder", str(a1111_tree / "models"))
    changed = other.wait_for("modelListChanged", timeout=120)[0]  # every client hears of the new list
    asked = client.wait_for("modelListChanged", timeout=60)[0]
    assert changed["operation"] == "scan" and "tiny-scanned" in changed["model_list"]
    # ...but only the asker learns what the scan found on this disk
    assert asked["report"]["added"] == ["tiny-scanned"] and changed["report"] == {}

    mark = client.mark()
    client.emit("importModel", (str(a1111_tree / "loose" / "tiny-imported.safetensors"), "imported"))
    imported = client.wait_for("modelListChanged", lambda d: d["operation"] == "import", after=mark, timeout=120)
    assert "imported" in imported[0]["model_list"]

    mark = client.mark()
    client.emit("requestModelChange", "tiny-scanned")
    assert client.wait_for("modelChanged", after=mark, timeout=120)[0]["model_name"] == "tiny-scanned"
    mark = client.mark()
    client.emit("generateImage", {"prompt": "a cat", "iterations": 1, "steps": 2, "cfg_scale": 7.5, "threshold": 0,
                                  "perlin": 0, "width": 64, "height": 64, "sampler_name": "k_lms", "seed": 1,
                                  "seamless": False, "hires_fix": False, "progress_images": False,
                                  "progress_latents": False, "save_intermediates": 0, "variation_amount": 0,
                                  "with_variations": []}, False, False)
    result = client.wait_for("generationResult", after=mark, timeout=120)[0]
    assert result["metadata"]["model_id"] == "tiny-scanned"

    mark = client.mark()
    client.emit("deleteModel", "imported")
    listed = client.wait_for("modelListChanged", lambda d: d["operation"] == "delete", after=mark,
                             timeout=120)[0]["model_list"]
    assert "imported" not in listed and "tiny-scanned" in listed
    assert (a1111_tree / "loose" / "tiny-imported.safetensors").exists(), "the user's file stays"

    # The model loaded at start-up: chosen here, written to models.yaml, and the active model stays loaded.
    assert [n for n, m in listed.items() if m["default"]] != ["demo-alt"]
    mark = client.mark()
    client.emit("setDefaultModel", "demo-alt")
    listed = client.wait_for("modelListChanged", lambda d: d["operation"] == "default", after=mark,
                             timeout=120)[0]["model_list"]
    assert [n for n, m in listed.items() if m["default"]] == ["demo-alt"]
    assert listed["tiny-scanned"]["status"] == "active"
    assert server.studio.worker.engine().model_manager.default_model_name() == "demo-alt"

    # mistakes are errors naming the field, and the server carries on
    for event, payload, field in [("importModel", str(a1111_tree / "nope.safetensors"), "path"),
                                  ("scanModelFolder", 7, "path"),
                                  ("deleteModel", "tiny-scanned", "model_name"),
                                  ("setDefaultModel", "no-such-model", "model_name")]:
        mark, other_mark = client.mark(), other.mark()
        client.emit(event, payload)
        message = client.wait_for("error", after=mark, timeout=60)[0]["message"]
        assert field in message, message
        assert "nope.safetensors" not in str(other.events[other_mark:])  # whether a path exists is the asker's


def test_a_running_scan_stops_between_files_on_cancel_and_its_report_says_how_far_it_got(
        server_factory, connect, a1111_tree, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    shutil.copy(a1111_tree / "models" / "Stable-diffusion" / "tiny-scanned.safetensors", folder / "a-first.safetensors")
    rng = random.Random(18)
    for i in range(3000):  # a real scan reads each (seconds in all), so the cancel lands part-way
        (folder / f"junk-{i:04d}.ckpt").write_bytes(rng.randbytes(64))
    server = server_factory()
    assert server.studio.wait_until_loaded(120)
    client = connect(server.url)

    job_id = client.call("scanModelFolder", str(folder))["jobId"]
    client.wait_for("progressUpdate", lambda d: d.get("jobId") == job_id and d["currentStatus"].startswith("Scanning"),
                    timeout=120)
    client.emit("cancel", job_id)
    changed = client.wait_for("modelListChanged", lambda d: d.get("jobId") == job_id, timeout=60)[0]
    report = changed["report"]
    assert report["canceled"] is True and report["total"] == 3001
    assert 1 <= report["checked"] < 3001, report["checked"]
    assert report["added"] == ["a-first"] and "a-first" in changed["model_list"]  # what it found is kept
    # each junk file it reached is reported, in order, and none after the cancel
    assert [s["path"] for s in report["skipped"]] == [str(folder / f"junk-{i:04d}.ckpt")
                                                      for i in range(report["checked"] - 1)]
    client.wait_for("queueUpdate", lambda d: any(j["id"] == job_id and j["status"] == "canceled" for j in d["jobs"]),
                    timeout=30)

    # The studio carries on: the next scan runs to its end.
    mark = client.mark()
    again = client.call("scanModelFolder", str(a1111_tree / "models"))["jobId"]
    done = client.wait_for("modelListChanged", lambda d: d.get("jobId") == again, after=mark, timeout=120)[0]["report"]
    assert done["canceled"] is False and done["checked"] == done["total"] == 1
