"""Shared test helpers: reach an assignment's solution functions and the checkpoints its run trained."""
from __future__ import annotations

import os
from pathlib import Path

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


def pytest_collection_modifyitems(config, items):
    """nbval's cells of the solution notebooks are end-to-end runs: marked so that `-m` selects them with
    the other slow tests (make test runs the quick tests first, then these and the rest)."""
    for item in items:
        if type(item).__name__ == "IPyNbCell":
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)
