"""03_diffusion end to end: one nbgrader autograde run over staged submissions.

* the solution gets full marks;
* the blank release gets 0 on every graded cell (the threshold cells need the student's p_sample,
  ddim_step and a checkpoint trained with the student's ddpm_loss);
* each common mistake loses exactly the cells that test the broken function, plus the threshold cells
  that the calibration (docs/calibration/03_diffusion.md) shows it fails;
* a ``q_sample`` hard-coded to the visible test's answer fails that cell's hidden part (and ddpm_loss's).

Submissions are staged as students hand them in: the notebook with the checkpoints its training cell
saved. The solution and the mistakes that do not change training carry the solution run's checkpoint
(the graded run loads it and trains nothing); ``q_no_sqrt`` changes what training optimises, so it is
staged without one and its graded run retrains with the broken q_sample; the blank has none.
"""
from __future__ import annotations

import pytest

from autograder.grade import grade
from conftest import stage_submission

NAME = "03_diffusion"

POINTS = {
    "test_make_schedule": 2, "test_q_sample": 2, "test_predict_start_from_noise": 1, "test_q_posterior": 2,
    "test_ddpm_loss": 2, "test_p_sample": 2, "test_ddim_step": 2, "test_ddim_eta_one": 1,
    "test_threshold_fid_ddpm": 2, "test_threshold_fid_ddim": 2, "test_threshold_heldout_loss": 2,
}

Q_NO_SQRT = '''
def q_sample(x_start, t, noise, schedule):
    # mistake: alpha-bar instead of its square root
    return (extract(schedule.alphas_cumprod, t, x_start.shape) * x_start
            + extract(1 - schedule.alphas_cumprod, t, x_start.shape) * noise)
'''
P_VAR_AS_STD = '''
def p_sample(model, x_t, t, noise, schedule, clip_x0=True):
    x0_hat = predict_start_from_noise(x_t, t, model(x_t, t), schedule)
    if clip_x0:
        x0_hat = x0_hat.clamp(-1.0, 1.0)
    mean, variance, _ = q_posterior(x0_hat, x_t, t, schedule)
    nonzero = (t != 0).to(x_t.dtype).view(-1, 1, 1, 1)
    return mean + nonzero * variance * noise  # mistake: the variance used as the standard deviation
'''
DDIM_WRAP = '''
def ddim_step(model, x_t, t, t_prev, noise, schedule, eta, clip_x0=True):
    eps = model(x_t, t)
    x0_hat = predict_start_from_noise(x_t, t, eps, schedule)
    if clip_x0:
        x0_hat = x0_hat.clamp(-1.0, 1.0)
    ab_t = extract(schedule.alphas_cumprod, t, x_t.shape)
    ab_prev = extract(schedule.alphas_cumprod, t_prev, x_t.shape)  # mistake: t_prev = -1 wraps to the LAST entry
    sigma = eta * torch.sqrt((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev))
    return torch.sqrt(ab_prev) * x0_hat + torch.sqrt((1 - ab_prev - sigma ** 2).clamp(min=0.0)) * eps + sigma * noise
'''
HARD_CODED = '''
def q_sample(x_start, t, noise, schedule):
    return torch.tensor([0.9 + 2 * math.sqrt(0.19), 0.81 + 2 * math.sqrt(1 - 0.6561)]).view(2, 1, 1, 1).expand(2, 1, 2, 2)
'''

RETRAIN = {"q_no_sqrt"}  # mistakes that change training: staged without a checkpoint

# submission -> (replaced answer cells, graded cells expected to score 0)
CASES = {
    "q_no_sqrt": ({"q_sample": Q_NO_SQRT}, ("test_q_sample", "test_ddpm_loss", "test_threshold_heldout_loss")),
    "p_var_as_std": ({"p_sample": P_VAR_AS_STD}, ("test_p_sample", "test_threshold_fid_ddpm")),
    "ddim_wrap": ({"ddim_step": DDIM_WRAP}, ("test_ddim_step", "test_ddim_eta_one", "test_threshold_fid_ddim")),
    "hard_coded": ({"q_sample": HARD_CODED}, ("test_q_sample", "test_ddpm_loss")),
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
