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
    import fcntl

    folder = SOLUTIONS / name / "checkpoints"
    # one run at a time when several pytest-xdist workers ask for the same assignment's checkpoints
    with open(SOLUTIONS / name / ".checkpoints.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not folder.is_dir() or not any(folder.glob("*.pt")):
            from autograder.notebooks import run_notebook

            run_notebook(SOLUTIONS / name / f"{name}.ipynb", env={"COURSE_PROFILE": "fast"})
    return folder


# files whose tests split by their first parameter (an assignment) when pytest-xdist runs them on several
# workers: each assignment's module-scoped fixture (a grading, a fake-data environment) is then built in one
# worker only, and the assignments run side by side
SPLIT_BY_PARAMETER = {"test_grading.py", "test_full_smoke.py", "test_browser.py"}


def xdist_group(item) -> str:
    """The group of ``item`` under ``pytest -n N --dist loadgroup`` (make test): its file, or its file and
    assignment for :data:`SPLIT_BY_PARAMETER`. A group runs in one worker, in order, so tests that share a
    module-scoped fixture (a notebook's cells under nbval, one grading) stay together."""
    name = Path(str(item.fspath)).name
    params = getattr(getattr(item, "callspec", None), "params", {})
    if name in SPLIT_BY_PARAMETER:
        for key in ("graded", "name"):
            if key in params:
                return f"{name}::{params[key]}"
        if "attacked" in getattr(item, "fixturenames", ()):
            return f"{name}::attacked"
    return name


def pytest_collection_modifyitems(config, items):
    """nbval's cells of the solution notebooks are end-to-end runs: marked so that `-m` selects them with
    the other slow tests (make test runs the quick tests first, then these and the rest). Every item gets
    its :func:`xdist_group` (a no-op without pytest-xdist)."""
    for item in items:
        if type(item).__name__ == "IPyNbCell":
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)
        item.add_marker(pytest.mark.xdist_group(xdist_group(item)))
