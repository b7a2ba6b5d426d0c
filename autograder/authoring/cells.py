"""Cell builders shared by the authoring scripts (autograder/authoring/<short>_notebook.py), each of
which writes one nbgrader source notebook in solutions/. tests/test_pipeline.py checks that every
script still builds exactly the committed notebook, so the two cannot drift apart."""
from __future__ import annotations

from pathlib import Path

import nbformat

from autograder.release import normalize


def md(text: str):
    return nbformat.v4.new_markdown_cell(text.strip("\n"))


def code(text: str):
    return nbformat.v4.new_code_cell(text.strip("\n"))


def answer(grade_id: str, text: str):
    """A student answer cell (nbgrader ``solution``), graded through the test cells."""
    cell = code(text)
    cell.metadata["nbgrader"] = {"grade": False, "grade_id": grade_id, "locked": False,
                                 "schema_version": 3, "solution": True, "task": False}
    return cell


def graded(grade_id: str, text: str, points: float):
    """A locked, graded test cell worth ``points``."""
    cell = code(text)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "locked": True, "points": points,
                                 "schema_version": 3, "solution": False, "task": False}
    return cell


def build(cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    return normalize(nb)


def write(cells, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(build(cells), out)
    print("wrote", out)
