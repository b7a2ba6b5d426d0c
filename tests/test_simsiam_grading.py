"""04_simsiam end to end: one autograder.grade.grade() call over staged submissions.

* the solution gets full marks;
* the blank release gets zero on every graded cell (its training cells call the unimplemented
  functions, so the threshold cells have no checkpoint to evaluate);
* three common mistakes each lose exactly the points of the cells that test the broken function,
  plus the threshold cells when the mistake changes what training produces.

Submissions are staged as students hand them in, notebook plus the checkpoints its training cells
saved: the solution and the mistakes that do not change what training produces carry the solution
run's checkpoints (the graded run loads them and trains nothing; the asymmetric loss still trains,
paper Table 4, and the kNN mistake only affects the monitor). A missing ``detach`` is staged without
checkpoints, so its graded run retrains with the student's functions, collapses, and also loses the
stop-gradient run's threshold cells.
"""
from __future__ import annotations

import pytest

from conftest import stage_submission
from autograder.grade import grade

NAME = "04_simsiam"

NO_DETACH = '''
def negative_cosine_similarity(p, z, stop_gradient=True):
    p = F.normalize(p, dim=1)
    z = F.normalize(z, dim=1)
    return -(p * z).sum(dim=1).mean()
'''

NOT_SYMMETRISED = '''
def simsiam_loss(p1, p2, z1, z2, stop_gradient=True):
    return negative_cosine_similarity(p1, z2, stop_gradient)
'''

KNN_UNNORMALISED = '''
def knn_predict(query, bank, bank_labels, k, temperature, num_classes):
    sim = query @ bank.T
    top_sim, top_idx = sim.topk(k, dim=1)
    weights = (top_sim / temperature).exp()
    votes = torch.zeros(query.shape[0], num_classes, dtype=weights.dtype)
    votes.scatter_add_(1, bank_labels[top_idx], weights)
    return votes.argmax(dim=1)
'''

THRESHOLD_CELLS = {"test_simsiam_knn_threshold", "test_simsiam_no_collapse"}

RETRAIN = {"no_detach"}  # changes what training produces: staged without checkpoints
MISTAKES = {
    "no_detach": ("negative_cosine_similarity", NO_DETACH, {"test_stop_gradient"} | THRESHOLD_CELLS),
    "not_symmetrised": ("simsiam_loss", NOT_SYMMETRISED, {"test_simsiam_loss"}),
    "knn_unnormalised": ("knn_predict", KNN_UNNORMALISED, {"test_knn_predict"}),
}


@pytest.mark.e2e
@pytest.mark.slow
def test_grading_end_to_end(tmp_path):
    subs = tmp_path / "submitted"
    stage_submission(subs, "solution", NAME)
    stage_submission(subs, "blank", NAME, release=True, checkpoints=False)
    for student, (cell, source, _) in MISTAKES.items():
        stage_submission(subs, student, NAME, replace={cell: source}, checkpoints=student not in RETRAIN)
    results = {r.student: r for r in grade(subs, tmp_path / "course", log=lambda *a: None)}

    full = results["solution"]
    assert full.max_score > 0 and full.score == full.max_score, full.cells
    max_points = {cell: mx for cell, (_, mx) in full.cells.items()}
    assert len(max_points) >= 8

    blank = results["blank"]
    assert blank.cells and all(score == 0 for score, _ in blank.cells.values()), blank.cells

    for student, (_, _, broken) in MISTAKES.items():
        r = results[student]
        lost = {cell for cell, (score, mx) in r.cells.items() if score < mx}
        assert lost == broken, (student, r.cells)
        assert r.score == full.max_score - sum(max_points[c] for c in broken), (student, r.cells)
