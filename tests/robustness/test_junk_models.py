"""Issue 21 item 7: one junk weight file never aborts a folder scan; each is reported by name with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from ldm.invoke.errors import ModelLoadError
from ldm.invoke.model_manager import ModelManager
from tests.support.tiny_checkpoints import build_tiny_pipeline, write_checkpoint

from .junk_files import legacy_with_missing_storage, write_junk


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> tuple[Path, list[Path]]:
    top = tmp_path_factory.mktemp("scan")
    junk = write_junk(top / "models" / "Stable-diffusion")
    write_checkpoint(build_tiny_pipeline("sd1", seed=5), "sd1", top / "models" / "Stable-diffusion" / "z-good.safetensors")
    return top, junk


def test_a_scan_reports_every_junk_file_and_adds_the_good_one(tree, tmp_path) -> None:
    top, junk = tree
    report = ModelManager(tmp_path / "root").scan_folder(top)
    assert report.added == ["z-good"]
    skipped = dict(report.skipped)
    assert sorted(skipped) == sorted(str(p) for p in junk)
    for path, reason in skipped.items():
        assert Path(path).name in reason and len(reason) > len(Path(path).name) + 10, reason
        assert "Traceback" not in reason


def test_importing_a_junk_file_directly_gives_the_same_reason(tree, tmp_path) -> None:
    top, junk = tree
    manager = ModelManager(tmp_path / "root")
    reasons = dict(manager.scan_folder(top).skipped)
    for path in junk:
        with pytest.raises(ModelLoadError) as info:
            manager.import_model(path)
        assert str(info.value) == reasons[str(path)]
    with pytest.raises(ModelLoadError, match="could not be read as a PyTorch checkpoint"):
        manager.import_model(legacy_with_missing_storage(tmp_path / "legacy.ckpt"))


def test_the_scan_over_the_protocol_reports_the_junk_and_goes_on(server_factory, connect, tree) -> None:
    top, junk = tree
    server = server_factory()
    assert server.studio.wait_until_loaded(120)
    client = connect(server.url)
    client.emit("scanModelFolder", str(top))
    changed = client.wait_for("modelListChanged", timeout=120)[0]
    assert "z-good" in changed["model_list"]
    skipped = {s["path"]: s["reason"] for s in changed["report"]["skipped"]}
    assert sorted(skipped) == sorted(str(p) for p in junk)
    mark = client.mark()
    client.emit("importModel", (str(junk[0]), "legacy"))
    error = client.wait_for("error", after=mark, timeout=60)[0]
    assert junk[0].name in error["message"] and "PyTorch checkpoint" in error["message"], error
