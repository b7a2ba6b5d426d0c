"""02_vae end to end: one nbgrader grading run over the solution, the blank release and three mistakes."""
from __future__ import annotations

import pytest

from conftest import stage_submission
from test_vae import MISTAKES

NAME = "02_vae"
UNIT_CELLS = {"test_ae_loss": 2, "test_reparameterize": 1, "test_kl_to_standard_normal": 2, "test_vae_loss": 2,
              "test_beta_schedules": 1}
THRESHOLD_CELLS = {"test_ae_threshold": 2, "test_vae_threshold": 2, "test_beta08_threshold": 1,
                   "test_beta12_threshold": 1, "test_linear_threshold": 1, "test_kl_decreases_with_beta": 1}
ALL_CELLS = {**UNIT_CELLS, **THRESHOLD_CELLS}
STUDENTS = {"mean_pixels": "mean over all elements", "kl_sum_batch": "KL summed over the batch",
            "logvar": "log_std as log-variance"}
VAE_RECON_CELLS = ("test_vae_threshold", "test_beta08_threshold", "test_beta12_threshold", "test_linear_threshold")
# Submissions carry the checkpoints their training cells saved. Per docs/calibration/02_vae.md a mean
# over pixels in ae_loss still trains an AE below the threshold and the log-variance KL still trains
# VAEs below theirs, so those two are staged with the solution run's checkpoints (the graded run loads
# them). A KL summed over the batch collapses every posterior: it is staged without checkpoints, the
# grader trains its models with the buggy loss (fast profile), and its VAE reconstruction thresholds
# fail as well.
RETRAIN = {"kl_sum_batch"}
LOST = {"mean_pixels": {"test_ae_loss"},
        "kl_sum_batch": {"test_vae_loss", *VAE_RECON_CELLS},
        "logvar": {"test_kl_to_standard_normal"}}
# with collapsed posteriors the three KL are ~0.1 each and their order is noise: not asserted
UNDECIDED = {"kl_sum_batch": {"test_kl_decreases_with_beta"}}


@pytest.mark.e2e
def test_grading_solution_blank_and_mistakes(tmp_course):
    from autograder.grade import grade

    subs = tmp_course / "submissions"
    stage_submission(subs, "solution", NAME)
    # the blank release without checkpoints: its training cells fail, so nothing is left to evaluate
    stage_submission(subs, "blank", NAME, release=True, checkpoints=False)
    for student, mistake in STUDENTS.items():
        fn, source, _cell, _hint = MISTAKES[mistake]
        stage_submission(subs, student, NAME, replace={fn: source}, checkpoints=student not in RETRAIN)
    results = {r.student: r for r in grade(subs, tmp_course / "course", log=lambda *a: None)}

    assert set(results) == {"solution", "blank", *STUDENTS}
    sol = results["solution"]
    assert sol.cells == {k: (float(v), float(v)) for k, v in ALL_CELLS.items()}, sol.error
    assert sol.score == sol.max_score == sum(ALL_CELLS.values())
    blank = results["blank"]
    assert blank.score == 0 and all(score == 0 for score, _ in blank.cells.values()), blank.cells
    for student, mistake in STUDENTS.items():
        assert MISTAKES[mistake][2] in LOST[student]
        skip = UNDECIDED.get(student, set())
        want = {k: (0.0 if k in LOST[student] else float(v), float(v)) for k, v in ALL_CELLS.items() if k not in skip}
        got = {k: v for k, v in results[student].cells.items() if k not in skip}
        assert got == want, f"{student}: {results[student].cells}"
