"""03_diffusion: the mistakes and their costs (calibration: docs/calibration/03_diffusion.md).

``q_no_sqrt`` changes what training optimises: the submission has no checkpoint and the graded run
retrains with the broken q_sample. The sampling mistakes are graded with the solution run's checkpoint.
"""

from autograder.mistakes import Mistake

Q_NO_SQRT = """
def q_sample(x_start, t, noise, schedule):
    # mistake: alpha-bar instead of its square root
    return (extract(schedule.alphas_cumprod, t, x_start.shape) * x_start
            + extract(1 - schedule.alphas_cumprod, t, x_start.shape) * noise)
"""
P_VAR_AS_STD = """
def p_sample(model, x_t, t, noise, schedule, clip_x0=True):
    x0_hat = predict_start_from_noise(x_t, t, model(x_t, t), schedule)
    if clip_x0:
        x0_hat = x0_hat.clamp(-1.0, 1.0)
    mean, variance, _ = q_posterior(x0_hat, x_t, t, schedule)
    nonzero = (t != 0).to(x_t.dtype).view(-1, 1, 1, 1)
    return mean + nonzero * variance * noise  # mistake: the variance used as the standard deviation
"""
DDIM_WRAP = """
def ddim_step(model, x_t, t, t_prev, noise, schedule, eta, clip_x0=True):
    eps = model(x_t, t)
    x0_hat = predict_start_from_noise(x_t, t, eps, schedule)
    if clip_x0:
        x0_hat = x0_hat.clamp(-1.0, 1.0)
    ab_t = extract(schedule.alphas_cumprod, t, x_t.shape)
    ab_prev = extract(schedule.alphas_cumprod, t_prev, x_t.shape)  # mistake: t_prev = -1 wraps to the LAST entry
    sigma = eta * torch.sqrt((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev))
    return torch.sqrt(ab_prev) * x0_hat + torch.sqrt((1 - ab_prev - sigma ** 2).clamp(min=0.0)) * eps + sigma * noise
"""
HARD_CODED = """
def q_sample(x_start, t, noise, schedule):
    return torch.tensor([0.9 + 2 * math.sqrt(0.19), 0.81 + 2 * math.sqrt(1 - 0.6561)]).view(2, 1, 1, 1).expand(2, 1, 2, 2)
"""

CHECKPOINT_CELLS = ("test_threshold_heldout_loss",)  # FID cells sample from the shipped pretrained model

MISTAKES = {
    "q_no_sqrt": Mistake(
        {"q_sample": Q_NO_SQRT},
        ("test_q_sample", "test_ddpm_loss", "test_threshold_heldout_loss"),
        drop=("*",),
        hint="square roots",
    ),
    "p_var_as_std": Mistake(
        {"p_sample": P_VAR_AS_STD}, ("test_p_sample", "test_threshold_fid_ddpm"), hint="std = exp(log_variance / 2)"
    ),
    "ddim_wrap": Mistake(
        {"ddim_step": DDIM_WRAP}, ("test_ddim_step", "test_ddim_eta_one", "test_threshold_fid_ddim"), hint="t_prev = -1"
    ),
    # its q_sample fits the visible test's shapes only: training raises, so the submission has no checkpoint of
    # its own and the held-out loss cell fails (the FID cells sample the shipped model with its correct steps)
    "hard_coded": Mistake(
        {"q_sample": HARD_CODED},
        ("test_q_sample", "test_ddpm_loss", "test_threshold_heldout_loss"),
        hint="hard-coded",
        drop=("ddpm",),
    ),
}
