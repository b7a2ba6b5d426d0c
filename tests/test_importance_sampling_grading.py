"""05_importance_sampling end to end: one nbgrader autograde run over staged submissions.

* the solution gets full marks;
* the blank release gets 0 on every graded cell (all of them need code: the threshold cells need the
  checkpoint that training with the student's ``elbo`` writes);
* each common mistake loses exactly the cells that test the broken function, plus the cells whose
  function calls it (``CALLERS``) and, when the mistake changes training, the threshold cells;
* a ``log_mean_exp`` hard-coded to the visible test's answer fails that cell's hidden part.

Submissions are staged as students hand them in: the notebook with the checkpoints its training cell
saved. The solution and the mistakes that do not change training carry the solution run's checkpoint
(the graded run loads it and trains nothing); ``bernoulli_mean`` changes what training optimises, so it
is staged without one and its graded run retrains with the broken function; the blank has none.
"""
from __future__ import annotations

import pytest

from autograder.grade import grade
from conftest import stage_submission

NAME = "05_importance_sampling"

POINTS = {
    "test_log_likelihood_bernoulli": 1, "test_log_likelihood_bernoulli_stable": 1,
    "test_log_likelihood_normal": 1, "test_log_likelihood_normal_broadcast": 1,
    "test_log_mean_exp": 1, "test_log_mean_exp_stable": 1,
    "test_kl_gaussian_gaussian_analytic": 1, "test_kl_gaussian_gaussian_mc": 1,
    "test_elbo": 2, "test_importance_sampling_log_px": 2, "test_importance_sampling_quadrature": 2,
    "test_threshold_elbo": 2, "test_threshold_log_px": 2,
}
IS_CELLS = ("test_importance_sampling_log_px", "test_importance_sampling_quadrature")
THRESHOLD_CELLS = ("test_threshold_elbo", "test_threshold_log_px")

LME_SUM = '''
def log_mean_exp(y, dim):
    return torch.logsumexp(y, dim=dim)  # mistake: log of the SUM of exponentials
'''
BERNOULLI_MEAN = '''
def log_likelihood_bernoulli(logits, target):
    # mistake: averaged over pixels instead of summed
    return (target * F.logsigmoid(logits) + (1 - target) * F.logsigmoid(-logits)).mean(-1)
'''
IS_NO_RATIO = '''
def importance_sampling_log_px(model, x, eps):
    mu, logvar = model.encode(x)
    z = mu.unsqueeze(1) + torch.exp(0.5 * logvar).unsqueeze(1) * eps
    # mistake: weights p(x|z) alone, without p(z) / q(z|x)
    return log_mean_exp(log_likelihood_bernoulli(model.decode(z), x.reshape(x.shape[0], 1, -1)), dim=1)
'''
HARD_CODED = '''
def log_mean_exp(y, dim):
    return torch.tensor([math.log(2.0)])  # the visible test's answer
'''

RETRAIN = {"bernoulli_mean"}  # mistakes that change training: staged without a checkpoint

# submission -> (replaced answer cells, graded cells expected to score 0)
CASES = {
    "lme_sum": ({"log_mean_exp": LME_SUM}, ("test_log_mean_exp", "test_log_mean_exp_stable") + IS_CELLS),
    "bernoulli_mean": ({"log_likelihood_bernoulli": BERNOULLI_MEAN},
                       ("test_log_likelihood_bernoulli", "test_log_likelihood_bernoulli_stable", "test_elbo")
                       + IS_CELLS + THRESHOLD_CELLS),
    "is_no_ratio": ({"importance_sampling_log_px": IS_NO_RATIO}, IS_CELLS),
    "hard_coded": ({"log_mean_exp": HARD_CODED}, ("test_log_mean_exp", "test_log_mean_exp_stable") + IS_CELLS),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    subs = root / "submissions"
    stage_submission(subs, "solution", NAME)
    stage_submission(subs, "blank", NAME, release=True, checkpoints=False)
    for student, (replace, _) in CASES.items():
        stage_submission(subs, student, NAME, replace=replace, checkpoints=student not in RETRAIN)
    results = grade(subs, root / "course", log=lambda *a: None)
    return {r.student: r for r in results}


@pytest.mark.e2e
@pytest.mark.slow
def test_solution_gets_full_marks(graded):
    r = graded["solution"]
    assert not r.error, r.error
    assert r.max_score == sum(POINTS.values())
    assert {c: s for c, (s, _) in r.cells.items()} == POINTS, r.cells


@pytest.mark.e2e
@pytest.mark.slow
def test_blank_release_gets_zero_everywhere(graded):
    r = graded["blank"]
    assert set(r.cells) == set(POINTS)
    assert {c: s for c, (s, _) in r.cells.items()} == {c: 0 for c in POINTS}, r.cells


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("student", sorted(CASES))
def test_mistake_loses_exactly_its_cells(graded, student):
    _, lost = CASES[student]
    expected = {c: (0 if c in lost else p) for c, p in POINTS.items()}
    assert {c: s for c, (s, _) in graded[student].cells.items()} == expected
