"""The archive an instructor hands to students: released notebooks, course_lib, environment, README
(docs/student-bundle-README.md: installing on Linux, macOS, Windows and Colab, profiles, submitting)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from . import REPO

STUDENT_PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "dgm-course-student"
version = "{version}"
requires-python = ">=3.11"
dependencies = {deps}

[tool.setuptools.packages.find]
include = ["course_lib*"]

[tool.setuptools.package-data]
course_lib = ["assets/*"]
"""

STUDENT_README = REPO / "docs" / "student-bundle-README.md"  # the bundle's README.md, edited there


def _skip(path: Path) -> bool:
    parts = set(path.parts)
    return bool(parts & {"__pycache__", ".ipynb_checkpoints", "checkpoints", "figures"}) or path.suffix == ".pyc"


def build(out: Path) -> Path:
    """Write the student bundle (a zip) to ``out``; return its path."""
    import tomllib

    import course_lib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    env_yml = (REPO / "environment.yml").read_text()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for folder in ("notebooks", "course_lib"):
            for path in sorted((REPO / folder).rglob("*")):
                if path.is_file() and not _skip(path.relative_to(REPO)):
                    zf.write(path, f"dgm-course/{path.relative_to(REPO)}")
        zf.writestr("dgm-course/environment.yml", env_yml)
        zf.writestr(
            "dgm-course/pyproject.toml",
            STUDENT_PYPROJECT.format(
                version=course_lib.__version__, deps=repr(project["dependencies"]).replace("'", '"')
            ),
        )
        zf.writestr("dgm-course/README.md", STUDENT_README.read_text())
    return out
