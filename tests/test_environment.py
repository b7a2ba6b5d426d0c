"""The set-up files agree with each other and with what is installed."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent


def _pyproject_deps():
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]


def test_environment_yml_mirrors_pyproject_dependencies():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_reqs = sorted(r for r in pip_section if not r.startswith("-e"))
    assert sorted(_pyproject_deps()) == conda_reqs
    assert "-e ." in pip_section


def test_installed_versions_satisfy_the_pins():
    for dep in _pyproject_deps():
        req = Requirement(dep)
        installed = Version(re.sub(r"\+.*", "", metadata.version(req.name)))
        assert installed in req.specifier, f"{req.name} {installed} does not satisfy {req}"


def test_torch_and_torchvision_import_together():
    out = subprocess.run(
        [sys.executable, "-c", "import torch, torchvision; torchvision.ops.nms"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr


def test_nbgrader_lab_extension_is_enabled_and_ok():
    jupyter = Path(sys.executable).parent / "jupyter"
    out = subprocess.run([str(jupyter), "labextension", "list"], capture_output=True, text=True)
    listing = out.stdout + out.stderr
    line = next((l for l in listing.splitlines() if "nbgrader" in l), "")
    assert "enabled" in line and "OK" in line, listing
