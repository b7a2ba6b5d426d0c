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
    monkeypatch.setenv("COURSE_CELL_TIMEOUT", "180")  # the infinite loop costs one cell timeout
    marker = tmp_path / "PWNED"
    subs = tmp_path / "subs"
    fixtures.stage(NAME, subs, checkpoints=solution_checkpoints(NAME), marker=marker)
    results = {r.student: r for r in grade(subs, tmp_path / "course", log=lambda *_: None)}
    assert set(results) == set(fixtures.KINDS)
    last = list(POINTS)[-1]
    assert fixtures.graded_cells(__import__("nbformat").read(subs / "solution" / NAME / f"{NAME}.ipynb", 4))[-1] == last
    for kind, result in results.items():
        lost = {"none": (), "last_cell": (last,), "checkpoint_cells": THRESHOLD_CELLS}[fixtures.EXPECTED[kind]]
        expected = {cell: (0.0 if cell in lost else float(p), float(p)) for cell, p in POINTS.items()}
        assert result.cells == expected, f"{kind}: {result.cells} (reasons: {result.reasons})"
    for kind in ("checkpoint_corrupt", "checkpoint_oversized", "checkpoint_malicious"):
        for cell in THRESHOLD_CELLS:
            assert "CheckpointError" in results[kind].reasons[cell], (kind, results[kind].reasons)
    assert "over the" in results["checkpoint_oversized"].reasons[THRESHOLD_CELLS[0]]
    assert "refused to load" in results["checkpoint_malicious"].reasons[THRESHOLD_CELLS[0]]
    assert not marker.exists(), "the malicious checkpoint ran code while being graded"
