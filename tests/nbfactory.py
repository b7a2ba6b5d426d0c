"""Build small nbgrader source notebooks for tests of the pipeline (not a course assignment)."""

from __future__ import annotations

from pathlib import Path

import nbformat


def answer_cell(grade_id: str, source: str):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {
        "grade": False,
        "grade_id": grade_id,
        "locked": False,
        "schema_version": 3,
        "solution": True,
        "task": False,
    }
    return cell


def test_cell(grade_id: str, source: str, points: float):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {
        "grade": True,
        "grade_id": grade_id,
        "locked": True,
        "points": points,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    return cell


def written_answer_cell(grade_id: str, answer: str, points: float, rubric: str | None = None):
    """A manually graded written answer (nbgrader: markdown, ``solution`` and ``grade``) in the course's
    convention (autograder/rubrics.py): model answer, then a rubric whose criteria give ``points``."""
    rubric = rubric or f"- {points:g} points: the answer says what the model answer says"
    cell = nbformat.v4.new_markdown_cell(
        f"### BEGIN SOLUTION\n**Model answer.** {answer}\n\n**Rubric ({points:g} points).**\n{rubric}\n### END SOLUTION"
    )
    cell.metadata["nbgrader"] = {
        "grade": True,
        "grade_id": grade_id,
        "locked": False,
        "points": points,
        "schema_version": 3,
        "solution": True,
        "task": False,
    }
    return cell


def toy_assignment(solutions: Path, name: str = "00_toy", *, written: bool = False) -> Path:
    """A two-function assignment: ``add`` (2 points, one hidden test) and ``square`` (1 point); with
    ``written``, also a written answer graded by hand (``explain_add``, 2 points) at the end."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Toy assignment"),
        nbformat.v4.new_code_cell("import math"),
        answer_cell("add", "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION"),
        test_cell(
            "test_add", "assert add(1, 2) == 3\n### BEGIN HIDDEN TESTS\nassert add(-5, 5) == 0\n### END HIDDEN TESTS", 2
        ),
        answer_cell("square", "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION"),
        test_cell("test_square", "assert square(3) == 9", 1),
    ]
    if written:
        nb.cells += [
            nbformat.v4.new_markdown_cell("Why does `add(a, b) == add(b, a)` hold?"),
            written_answer_cell(
                "explain_add",
                "Addition of numbers is commutative: a + b and b + a are the same number.",
                2,
                "- 1 point: names commutativity\n- 1 point: says a + b equals b + a",
            ),
        ]
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    path = solutions / name / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
