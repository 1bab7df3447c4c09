"""The two ways to install (pip's pyproject.toml and conda's environment.yml) ask for the same things."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _normalise(req: str) -> str:
    name = re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower() + req[len(name):].replace(" ", "")


def test_environment_yml_lists_the_same_requirements_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_reqs = sorted(_normalise(r) for r in pip_section if not r.startswith("-e"))
    assert conda_reqs == sorted(_normalise(r) for r in project["dependencies"])
    assert any(d.startswith("python=3.11") for d in env["dependencies"] if isinstance(d, str))
    assert "-e ." in pip_section


def test_console_scripts_and_extras_are_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"invokeai": "invokeai_gui.main:main", "invokeai-configure": "ldm.invoke.configure:main"}
    assert any(r.startswith("pywebview[qt]") for r in project["optional-dependencies"]["gui"])
    assert "test" in project["optional-dependencies"]
