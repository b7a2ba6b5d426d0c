"""``python -m autograder new-assignment <nn_name>``: a new assignment from the template in autograder/template/.

The template is a small working assignment (fit a line: one student function with visible and hidden
tests, a load-or-train run, a threshold cell, a written question, its mistakes and calibration spec). It is
copied with ``__NAME__`` (e.g. ``06_flows``) and ``__SHORT__`` (``flows``) replaced in paths and contents,
into exactly the folders an assignment owns (docs/ARCHITECTURE.md, "Adding an assignment"): nothing shared
is edited, discovery (:func:`course_lib.assignments.discover`) finds it.
"""

from __future__ import annotations

import re
from pathlib import Path

from . import REPO

TEMPLATE = Path(__file__).resolve().parent / "template"
NAME_PATTERN = re.compile(r"\d\d_[a-z][a-z0-9_]*")


def short_name(name: str) -> str:
    """The package name of assignment ``name``: ``06_flows`` -> ``flows``."""
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"assignment name {name!r} must look like 06_flows: two digits, '_', then lower-case "
            "letters, digits and '_' (the package name is what follows the digits)"
        )
    return name[3:]


def planned(name: str, repo: Path = REPO) -> dict[Path, Path]:
    """Template file -> where it goes for assignment ``name``."""
    short = short_name(name)
    out = {}
    for src in sorted(TEMPLATE.rglob("*")):
        if src.is_file() and "__pycache__" not in src.parts:
            rel = str(src.relative_to(TEMPLATE)).replace("__NAME__", name).replace("__SHORT__", short)
            out[src] = repo / rel
    return out


def create(name: str, repo: Path = REPO) -> list[Path]:
    """Write the new assignment's files under ``repo``; returns them. Refuses to overwrite anything."""
    short = short_name(name)
    from course_lib.assignments import discover

    taken = discover()
    if name in taken or short in taken.values():
        raise ValueError(f"{name!r} (package {short!r}) exists already")
    plan = planned(name, repo)
    existing = [str(dst.relative_to(repo)) for dst in plan.values() if dst.exists()]
    if existing:
        raise FileExistsError(f"these files exist already, nothing was written: {', '.join(existing)}")
    for src, dst in plan.items():
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(src.read_text().replace("__NAME__", name).replace("__SHORT__", short))
    return list(plan.values())
