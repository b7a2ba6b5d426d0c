"""Shared test helpers: reach an assignment's solution functions and the checkpoints its run trained."""

from __future__ import annotations

import os
import re
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


# files whose tests split by the assignment they are parametrized with when pytest-xdist runs them on several
# workers (make test): each assignment's module-scoped fixture (a grading, a fake-data environment) is then
# built in one worker only, and the assignments run side by side
SPLIT_BY_ASSIGNMENT = {"test_grading.py", "test_full_smoke.py", "test_browser.py"}
# the longest groups start first, so no worker is left with one of them at the end
HEAVY_FIRST = ("test_grading.py", "test_new_assignment.py", "test_full_smoke.py", "test_browser.py", "test_pipeline.py")


def xdist_group_of(nodeid: str) -> str:
    """The group of a test under ``pytest -n N --dist loadgroup`` (make test), from its node id: its file, or
    its file and assignment for :data:`SPLIT_BY_ASSIGNMENT`. A group runs in one worker, in collection order,
    so tests that share a module-scoped fixture (a notebook's cells under nbval, one grading) stay together.
    (pytest-xdist's own ``xdist_group`` marks cannot do it with pytest 9: xdist renames node ids, which pytest
    no longer allows, so the marks are silently ignored.)"""
    path, _, rest = nodeid.partition("::")
    name = path.rsplit("/", 1)[-1]
    if name in SPLIT_BY_ASSIGNMENT:
        found = re.search(r"\[(\d\d_[a-z0-9_]+)", rest)
        if found:
            return f"{path}::{found.group(1)}"
    return path


def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` schedules whole :func:`xdist_group_of` groups (any other mode: xdist's own)."""
    if config.getoption("dist", None) != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group_of(nodeid)

    return ByGroup(config, log)


def pytest_collection_modifyitems(config, items):
    """nbval's cells of the solution notebooks are end-to-end runs: marked so that `-m` selects them with
    the other slow tests (make test runs the quick tests first, then these and the rest). The files of
    :data:`HEAVY_FIRST` move to the front (their order kept), so their long groups start first."""
    for item in items:
        if type(item).__name__ == "IPyNbCell":
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)

    def rank(item) -> int:
        name = Path(str(item.fspath)).name
        return HEAVY_FIRST.index(name) if name in HEAVY_FIRST else len(HEAVY_FIRST)

    items.sort(key=rank)  # stable: the order within a file stays
