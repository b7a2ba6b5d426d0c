"""Shared test helpers: reach an assignment's solution functions, and stage graded submissions."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"

os.environ.setdefault("COURSE_PROFILE", "fast")
os.environ.setdefault("COURSE_PROGRESS", "0")
os.environ.setdefault("COURSE_STATIC_WIDGETS", "1")


def solution_functions(name: str):
    """The module of functions the solution notebook of ``name`` defines (imports + answer cells)."""
    from autograder.notebooks import load_functions

    return load_functions(SOLUTIONS / name / f"{name}.ipynb")


def solution_checkpoints(name: str) -> Path:
    """solutions/<name>/checkpoints after a fast-profile run of the solution notebook.

    ``make test`` runs every solution notebook (nbval) before the tests in tests/, so this normally
    finds the checkpoints that run trained; otherwise it runs the notebook once here.
    """
    folder = SOLUTIONS / name / "checkpoints"
    if not folder.is_dir() or not any(folder.glob("*.pt")):
        from autograder.notebooks import run_notebook

        run_notebook(SOLUTIONS / name / f"{name}.ipynb", env={"COURSE_PROFILE": "fast"})
    return folder


def stage_submission(subs: Path, student: str, name: str, *, replace: dict[str, str] | None = None,
                     delete: tuple[str, ...] = (), checkpoints: bool = True, release: bool = False) -> Path:
    """Write ``subs/<student>/<name>/`` from the solution (or the blank release) notebook.

    Args:
        replace: grade_id -> new source for answer cells (a student's version of that function).
        delete: grade_ids of cells the student deleted.
        checkpoints: copy the solution run's checkpoints along.
        release: start from notebooks/<name> (the blank release) instead of the solution.
    """
    src = (REPO / "notebooks" if release else SOLUTIONS) / name / f"{name}.ipynb"
    nb = nbformat.read(src, as_version=4)
    replace = dict(replace or {})
    kept = []
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in delete:
            continue
        if gid in replace:
            cell.source = replace.pop(gid)
        kept.append(cell)
    if replace:
        raise KeyError(f"no cells with grade_id {sorted(replace)} in {src}")
    nb.cells = kept
    target = subs / student / name
    target.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target / src.name)
    if checkpoints:
        shutil.copytree(solution_checkpoints(name), target / "checkpoints", dirs_exist_ok=True)
    return target


@pytest.fixture
def tmp_course(tmp_path):
    """A scratch folder for submissions and an nbgrader course."""
    return tmp_path
