"""The grader-attacking fixtures (autograder/fixtures.py) graded end to end on 05_importance_sampling:
each gets exactly the points autograder.fixtures.EXPECTED says, the reasons name the refused
checkpoint, and the malicious pickle never runs."""
from __future__ import annotations

import pytest

from autograder import fixtures
from autograder.grade import grade
from conftest import solution_checkpoints
from test_importance_sampling_grading import NAME, POINTS, THRESHOLD_CELLS


def test_fixture_kinds_are_checked(tmp_path):
    with pytest.raises(ValueError, match="unknown fixture kinds"):
        fixtures.stage(NAME, tmp_path, checkpoints=tmp_path, marker=tmp_path / "m", kinds=("nope",))
    with pytest.raises(FileNotFoundError, match="run the solution notebook"):
        fixtures.stage(NAME, tmp_path, checkpoints=tmp_path, marker=tmp_path / "m")


@pytest.mark.e2e
@pytest.mark.slow
def test_every_fixture_gets_exactly_its_expected_points(tmp_path, monkeypatch):
    marker = tmp_path / "PWNED"
    subs, loop = tmp_path / "subs", tmp_path / "loop"
    kinds = [k for k in fixtures.KINDS if k != "infinite_loop"]
    fixtures.stage(NAME, subs, checkpoints=solution_checkpoints(NAME), marker=marker, kinds=kinds)
    fixtures.stage(NAME, loop, checkpoints=solution_checkpoints(NAME), marker=marker, kinds=["infinite_loop"])
    results = {r.student: r for r in grade(subs, tmp_path / "course", log=lambda *_: None)}
    # the loop costs one cell timeout: graded on its own with a short one (checkpoints present, every
    # other cell of the notebook takes seconds), so the retraining fixture keeps the default
    monkeypatch.setenv("COURSE_CELL_TIMEOUT", "90")
    results.update({r.student: r for r in grade(loop, tmp_path / "course-loop", log=lambda *_: None)})
    assert set(results) == set(fixtures.KINDS)
    last = list(POINTS)[-1]
    assert fixtures.graded_cells(__import__("nbformat").read(subs / "solution" / NAME / f"{NAME}.ipynb", 4))[-1] == last
    wrong = {}
    for kind, result in results.items():
        lost = {"none": (), "checkpoint_cells": THRESHOLD_CELLS}[fixtures.EXPECTED[kind]]
        expected = {cell: (0.0 if cell in lost else float(p), float(p)) for cell, p in POINTS.items()}
        if result.cells != expected:
            wrong[kind] = ({c: v for c, v in result.cells.items() if v != expected.get(c)}, result.reasons)
    assert wrong == {}, f"fixtures graded differently than expected (cell: got; reasons): {wrong}"
    for kind in ("checkpoint_corrupt", "checkpoint_oversized", "checkpoint_malicious"):
        for cell in THRESHOLD_CELLS:
            assert "CheckpointError" in results[kind].reasons[cell], (kind, results[kind].reasons)
    assert "over the" in results["checkpoint_oversized"].reasons[THRESHOLD_CELLS[0]]
    assert "refused to load" in results["checkpoint_malicious"].reasons[THRESHOLD_CELLS[0]]
    assert not marker.exists(), "the malicious checkpoint ran code while being graded"
