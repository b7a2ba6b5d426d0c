"""01_gan end to end: one nbgrader autograde run over staged submissions.

* the solution gets full marks;
* the blank release gets 0 on every graded cell (the threshold cells need the checkpoints that training
  with the student's losses writes);
* each common mistake loses exactly the cells that test the broken function and, when the mistake changes
  training and the calibration shows its FID above the threshold (the critic sign error: 2007 > 350), that
  variant's threshold cell;
* an ``interpolate_latents`` hard-coded to the visible test's answer fails that cell's hidden part.

Submissions are staged as students hand them in: the notebook with the checkpoints its training cells
saved. The solution and the mistakes that do not change training carry the solution run's checkpoints (the
graded run loads them and trains nothing). A mistake in one variant's losses changes only that variant's
training, so it is staged without that variant's checkpoint (the graded run retrains it with the broken
function, exactly as the calibration did) and with the solution's checkpoints of the other two; the blank
has none.
"""
from __future__ import annotations

import pytest

from autograder.grade import grade
from conftest import stage_submission

NAME = "01_gan"

POINTS = {
    "test_d_loss_nonsaturating": 1, "test_d_loss_nonsaturating_stable": 1, "test_g_loss_nonsaturating": 1,
    "test_d_loss_lsgan": 1, "test_g_loss_lsgan": 1,
    "test_gradient_penalty_linear": 2, "test_gradient_penalty_backprop": 2,
    "test_d_loss_wgan_gp": 1, "test_g_loss_wgan": 1, "test_interpolate_latents": 1,
    "test_threshold_nonsaturating": 2, "test_threshold_lsgan": 2, "test_threshold_wgan_gp": 2,
}

G_SATURATING = '''
def g_loss_nonsaturating(fake_logits):
    # mistake: the minimax generator loss mean log(1 - sigmoid(l)), which saturates
    return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
'''
CRITIC_SIGN = '''
def d_loss_wgan_gp(real_scores, fake_scores, gp, lam=10.0):
    return real_scores.mean() - fake_scores.mean() + lam * gp  # mistake: sign of the Wasserstein estimate
'''
INTERP_REVERSED = '''
def interpolate_latents(z0, z1, alphas):
    alphas = torch.as_tensor(alphas, dtype=z0.dtype).view(-1, 1)
    return alphas * z0 + (1 - alphas) * z1  # mistake: alpha = 0 gives z1
'''
HARD_CODED = '''
def interpolate_latents(z0, z1, alphas):
    return torch.tensor([[0.0, 2.0, -1.0], [0.25, 1.5, 0.0], [1.0, 0.0, 3.0]])  # the visible test's answer
'''

# submission -> (replaced answer cells, variant it retrains or None, graded cells expected to score 0)
CASES = {
    # retrained with the saturating loss it still reaches FID 513 (< 650, docs/calibration/01_gan.md): only
    # the unit-test cell catches it
    "g_saturating": ({"g_loss_nonsaturating": G_SATURATING}, "nonsaturating", ("test_g_loss_nonsaturating",)),
    "critic_sign": ({"d_loss_wgan_gp": CRITIC_SIGN}, "wgan_gp", ("test_d_loss_wgan_gp", "test_threshold_wgan_gp")),
    "interp_reversed": ({"interpolate_latents": INTERP_REVERSED}, None, ("test_interpolate_latents",)),
    "hard_coded": ({"interpolate_latents": HARD_CODED}, None, ("test_interpolate_latents",)),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    subs = root / "submissions"
    stage_submission(subs, "solution", NAME)
    stage_submission(subs, "blank", NAME, release=True, checkpoints=False)
    for student, (replace, retrain, _) in CASES.items():
        folder = stage_submission(subs, student, NAME, replace=replace)
        if retrain is not None:  # trained with the broken loss: the graded run retrains this variant
            for suffix in (".pt", ".json"):
                (folder / "checkpoints" / f"{retrain}{suffix}").unlink()
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
    _, _, lost = CASES[student]
    expected = {c: (0 if c in lost else p) for c, p in POINTS.items()}
    assert {c: s for c, (s, _) in graded[student].cells.items()} == expected, graded[student].cells
