"""Every staged submission of every assignment (autograder/fixtures.py), graded end to end by nbgrader.

For each assignment, one module-scoped run stages all fixture kinds from the solution and the release
(the solution, the blank release, the hard-coded answer, each common mistake of
autograder/mistakes/<short>.py, and the submissions that attack the grader) and grades them, then:

* every graded cell of every submission gets exactly the points of ``fixtures.expected_scores``;
* refused checkpoints say why (CheckpointError naming the problem) and the malicious pickle never runs;
* the feedback HTML of each mistake shows its per-cell points and the hidden test's diagnostic.

Two grading runs per assignment: the submissions that carry their checkpoints with a short cell
timeout (the infinite loop costs one timeout; every other cell takes seconds to a minute), then the
ones that retrain with the default timeout. The loader's size cap is lowered to CAP_MB while grading so
the oversized fixtures stay small on disk (the cap itself, and nbgrader copying files up to it, are
tested in test_core.py).
"""
from __future__ import annotations

import html
import re
import shutil

import pytest

from autograder import fixtures
from autograder.grade import grade
from autograder.mistakes import SHORT
from conftest import solution_checkpoints
from course_lib.checkpoints import MAX_MB_ENV

CAP_MB = 64  # above every fast-profile checkpoint (the largest is a few MB)
SHORT_TIMEOUT_S = 240


@pytest.fixture(scope="module", params=sorted(SHORT))
def graded(request, tmp_path_factory):
    name = request.param
    root = tmp_path_factory.mktemp(f"grading-{name}")
    marker = root / "PWNED"
    ckpt = solution_checkpoints(name)
    assert max(p.stat().st_size for p in ckpt.glob("*.pt")) < CAP_MB * 2**20
    kinds = fixtures.all_kinds(name)
    retrain = [k for k in kinds if fixtures.trains(name, k)]
    quick = [k for k in kinds if k not in retrain]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(MAX_MB_ENV, str(CAP_MB))
        fixtures.stage(name, root / "quick", checkpoints=ckpt, marker=marker, kinds=quick)
        fixtures.stage(name, root / "retrain", checkpoints=ckpt, marker=marker, kinds=retrain)
        mp.setenv("COURSE_CELL_TIMEOUT", str(SHORT_TIMEOUT_S))
        results = grade(root / "quick", root / "course-quick", log=lambda *_: None)
        mp.delenv("COURSE_CELL_TIMEOUT", raising=False)
        results += grade(root / "retrain", root / "course-retrain", log=lambda *_: None)
    yield name, {r.student: r for r in results}, root, marker
    shutil.rmtree(root, ignore_errors=True)  # the graded copies of the fixtures (checkpoints included)


@pytest.mark.e2e
@pytest.mark.slow
def test_every_fixture_gets_exactly_its_expected_points(graded):
    name, results, _, _ = graded
    assert set(results) == set(fixtures.all_kinds(name))
    assert not results["solution"].error, results["solution"].error
    wrong = fixtures.mismatches(results.values())
    assert wrong == {}, "graded differently than expected (cell: (got, expected)): " + repr(
        {k: (d, results[k[0]].reasons) for k, d in wrong.items()})


@pytest.mark.e2e
@pytest.mark.slow
def test_refused_checkpoints_say_why_and_never_run_code(graded):
    name, results, _, marker = graded
    cells = fixtures.for_assignment(name).checkpoint_cells
    why = {"checkpoint_corrupt": "corrupt or truncated", "checkpoint_oversized": "over the",
           "checkpoint_malicious": "refused to load"}
    for kind, text in why.items():
        reasons = results[kind].reasons
        for cell in cells:
            assert cell in reasons, (kind, cell, reasons)
        # each reason is the reference evaluator's own CheckpointError, or the cell's NameError /
        # KeyError followed by the training cell's CheckpointError that caused it
        assert all("CheckpointError" in reasons[c] and text in reasons[c] for c in cells), (kind, reasons)
    assert not marker.exists(), "the malicious checkpoint ran code while being graded"


@pytest.mark.e2e
@pytest.mark.slow
def test_feedback_shows_points_and_the_diagnostic(graded):
    name, results, root, _ = graded
    for kind, mistake in fixtures.mistake_kinds(name).items():
        course = root / ("course-retrain" if fixtures.trains(name, kind) else "course-quick")
        page = (course / "feedback" / kind / name / f"{name}.html").read_text()
        text = html.unescape(re.sub(r"<[^>]+>", "", page))
        assert mistake.hint in text, (kind, mistake.hint)
        r = results[kind]
        assert f"Score: {r.score:g} / {r.max_score:g}" in " ".join(text.split()) or \
            f"{r.score:.1f} / {r.max_score:.1f}" in text, (kind, r.score)
