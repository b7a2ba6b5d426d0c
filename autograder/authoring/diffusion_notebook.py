"""Writes solutions/03_diffusion/03_diffusion.ipynb (kept for reproducibility).

The .ipynb it writes is the source of truth that nbgrader reads; edit the notebook or this script and
re-run it: `python autograder/authoring/diffusion_notebook.py`.
"""
from __future__ import annotations

from pathlib import Path

import nbformat

from autograder.authoring import cells
from autograder.authoring.cells import answer, code, graded, md

NAME = "03_diffusion"
OUT = Path(__file__).resolve().parents[2] / "solutions" / NAME / f"{NAME}.ipynb"



CELLS = [
md(r"""
# 03 Diffusion: the DDPM schedule, the forward process, the training loss, DDPM and DDIM sampling

A denoising diffusion probabilistic model (DDPM; Ho, Jain & Abbeel, 2020) destroys an image with $T$ small
steps of Gaussian noise and learns to undo one step at a time. Sampling then starts from pure noise and
runs the learned reverse process. DDIM (Song, Meng & Ermon, 2021) reuses the *same trained network* but
samples with far fewer steps.

In this assignment (after CMU 16-824's diffusion homework and IFT6135, 2023) you will

1. compute the noise schedule's constants: $\alpha_t$, $\bar\alpha_t$ and the posterior's coefficients;
2. write the forward process $q(x_t\mid x_0)$ and invert it to predict $x_0$ from a noise estimate;
3. write the posterior $q(x_{t-1}\mid x_t, x_0)$ and the noise-prediction loss, and train a small U-Net;
4. write one DDPM ancestral step and one DDIM step, and sample from a pretrained model with both.

**Conventions.** Images are in $[-1, 1]$, shape `(B, C, H, W)`. Time steps `t` are `torch.long` tensors of
shape `(B,)` with values $0,\dots,T-1$: index `t` is the paper's step $t+1$ (so `t = 0` is the first, least noisy
step, as in diffusers and most code). All randomness (`noise`, `t`) is passed in: your functions never call
`torch.randn`. `extract(a, t, x.shape)` (given) gathers `a[t]` and reshapes it to `(B, 1, 1, 1)` so that it
broadcasts against images. `model(x_t, t)` is a U-Net (`course_lib.nets.unet.UNet`) that predicts the noise.

The profile (`COURSE_PROFILE`) decides data and budget: `full` trains on CIFAR-10 (32x32, $T = 1000$) on a GPU;
`fast` uses 16x16 MNIST digits, $T = 100$, and a pretrained model shipped with the course for the sampling
questions, so everything runs on a CPU in a few minutes.
"""),
code(r"""
%matplotlib inline
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from course_lib.checkpoints import load_into, load_or_train
from course_lib.device import get_device, seed_everything
from course_lib.diffusion import (DiffusionSchedule, beta_schedule, cosine_beta_schedule, extract,
                                  linear_beta_schedule, load_resized, pretrained_path, sample_ddim, sample_ddpm)
from course_lib.metrics.fid import fid_score, get_extractor, reference_statistics
from course_lib.nets.unet import UNet
from course_lib.profiles import active_profile_name, get_profile
from course_lib.train.diffusion import TrainConfig, train_diffusion
from course_lib.viz import plot_curves, show_images
from course_lib.widgets.diffusion import ddpm_trajectory, trajectory_frame, trajectory_slider

PROFILE = active_profile_name()
cfg = get_profile("03_diffusion")
device = get_device()
print(f"profile {PROFILE!r} on {device}: {cfg}")
"""),
md(r"""
## 1. The noise schedule

The forward process adds Gaussian noise with variance $\beta_t$ at step $t$ (Ho et al., eq. 2):
$q(x_t \mid x_{t-1}) = \mathcal N\big(\sqrt{1-\beta_t}\,x_{t-1},\ \beta_t I\big)$. Everything else follows from the
betas. With $\alpha_t = 1-\beta_t$ and $\bar\alpha_t = \prod_{s\le t}\alpha_s$:

| field | formula |
|---|---|
| `alphas` | $\alpha_t = 1-\beta_t$ |
| `alphas_cumprod` | $\bar\alpha_t = \prod_{s=0}^{t}\alpha_s$ |
| `alphas_cumprod_prev` | $\bar\alpha_{t-1}$, with $\bar\alpha_{-1} = 1$ (nothing noised before the first step) |
| `sqrt_alphas_cumprod`, `sqrt_one_minus_alphas_cumprod` | $\sqrt{\bar\alpha_t}$, $\sqrt{1-\bar\alpha_t}$ |
| `posterior_variance` | $\tilde\beta_t = \beta_t\,\dfrac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}$ |
| `posterior_log_variance_clipped` | $\log\tilde\beta_t$, with the $t=0$ entry (where $\tilde\beta_0 = 0$) replaced by $\log\tilde\beta_1$ |
| `posterior_mean_coef1`, `posterior_mean_coef2` | $\dfrac{\beta_t\sqrt{\bar\alpha_{t-1}}}{1-\bar\alpha_t}$ and $\dfrac{(1-\bar\alpha_{t-1})\sqrt{\alpha_t}}{1-\bar\alpha_t}$ |

The posterior quantities are derived in section 3. **Compute in float64, store in float32**: for the first steps
$1-\bar\alpha_t$ is a difference of two numbers close to 1, and float32 loses about four of its seven digits
there. Return `DiffusionSchedule(betas=..., alphas=..., ...)` with every field a float32 tensor of shape `(T,)`.

Two schedules are given: `linear_beta_schedule(T)` (Ho et al.: $10^{-4}$ to $0.02$ for $T=1000$) and
`cosine_beta_schedule(T)` (Nichol & Dhariwal 2021, which destroys information more slowly at first). The course
uses the cosine one.
"""),
answer("make_schedule", r'''
def make_schedule(betas):
    """All constants of a diffusion from its betas.

    Args:
        betas: (T,) tensor of beta_t in (0, 1) (any float dtype).

    Returns:
        DiffusionSchedule whose ten fields are float32 tensors of shape (T,), computed in float64.
    """
    ### BEGIN SOLUTION
    betas = betas.detach().to(torch.float64)
    alphas = 1.0 - betas
    alphas_cumprod = torch.cumprod(alphas, dim=0)
    alphas_cumprod_prev = F.pad(alphas_cumprod[:-1], (1, 0), value=1.0)
    # Ho et al. (2020), eq. 7: beta-tilde and the posterior mean's coefficients
    posterior_variance = betas * (1.0 - alphas_cumprod_prev) / (1.0 - alphas_cumprod)
    posterior_log_variance_clipped = torch.log(torch.cat([posterior_variance[1:2], posterior_variance[1:]]))
    fields = dict(
        betas=betas,
        alphas=alphas,
        alphas_cumprod=alphas_cumprod,
        alphas_cumprod_prev=alphas_cumprod_prev,
        sqrt_alphas_cumprod=torch.sqrt(alphas_cumprod),
        sqrt_one_minus_alphas_cumprod=torch.sqrt(1.0 - alphas_cumprod),
        posterior_variance=posterior_variance,
        posterior_log_variance_clipped=posterior_log_variance_clipped,
        posterior_mean_coef1=betas * torch.sqrt(alphas_cumprod_prev) / (1.0 - alphas_cumprod),
        posterior_mean_coef2=(1.0 - alphas_cumprod_prev) * torch.sqrt(alphas) / (1.0 - alphas_cumprod),
    )
    return DiffusionSchedule(**{name: value.to(torch.float32) for name, value in fields.items()})
    ### END SOLUTION
'''),
graded("test_make_schedule", r'''
# a constant schedule has alpha-bar_t = (1 - beta)^(t + 1)
const = make_schedule(torch.full((10,), 0.1, dtype=torch.float64))
assert isinstance(const, DiffusionSchedule)
assert const.alphas_cumprod.dtype == torch.float32, "store the fields as float32"
assert torch.allclose(const.alphas_cumprod, 0.9 ** torch.arange(1, 11, dtype=torch.float32), atol=1e-6), const.alphas_cumprod
assert const.alphas_cumprod_prev[0] == 1.0 and torch.allclose(const.alphas_cumprod_prev[1:], const.alphas_cumprod[:-1])
assert const.posterior_variance[0] == 0.0, "nothing is noised before the first step: beta-tilde_0 = 0"
assert torch.isfinite(const.posterior_log_variance_clipped).all(), "clip the log variance at t = 0"
### BEGIN HIDDEN TESTS
from diffusers import DDPMScheduler
betas = cosine_beta_schedule(50)
s = make_schedule(betas)
ref = DDPMScheduler(num_train_timesteps=50, trained_betas=betas.numpy())
assert torch.allclose(s.alphas_cumprod, ref.alphas_cumprod, atol=1e-6), "alphas_cumprod differs from diffusers"
ts = torch.arange(50)
dvar = torch.stack([ref._get_variance(int(t)) for t in ts])  # diffusers clamps beta-tilde_0 to 1e-20
assert torch.allclose(s.posterior_variance[1:], dvar[1:], rtol=1e-4, atol=1e-8), "posterior_variance differs from diffusers"
b = betas.numpy()
ab = np.cumprod(1 - b)
abp = np.concatenate([[1.0], ab[:-1]])
for name, want in [("alphas", 1 - b), ("sqrt_alphas_cumprod", np.sqrt(ab)), ("sqrt_one_minus_alphas_cumprod", np.sqrt(1 - ab)),
                   ("posterior_mean_coef1", b * np.sqrt(abp) / (1 - ab)), ("posterior_mean_coef2", (1 - abp) * np.sqrt(1 - b) / (1 - ab))]:
    assert np.allclose(getattr(s, name).numpy(), want, rtol=1e-5, atol=1e-7), f"{name} is wrong"
pv = b * (1 - abp) / (1 - ab)
assert np.allclose(s.posterior_log_variance_clipped.numpy(), np.log(np.concatenate([pv[1:2], pv[1:]])), atol=1e-5), \
    "posterior_log_variance_clipped: log of beta-tilde, with entry 0 replaced by entry 1"
# float64 arithmetic: 1 - alpha-bar_0 = beta_0 = 1e-4 exactly, which float32 arithmetic gets wrong by ~1e-5 (relative)
lin = make_schedule(linear_beta_schedule(1000))
assert abs(lin.sqrt_one_minus_alphas_cumprod[0].item() / 1e-2 - 1) < 1e-6, "compute in float64, then convert to float32"
### END HIDDEN TESTS
''', 2),
md(r"""
## 2. The forward process $q(x_t \mid x_0)$

Composing $t$ Gaussian steps gives a Gaussian in closed form (Ho et al., eq. 4):
$q(x_t\mid x_0) = \mathcal N\big(\sqrt{\bar\alpha_t}\,x_0,\ (1-\bar\alpha_t) I\big)$, so one can jump to any $t$ at once:

$$x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon, \qquad \epsilon\sim\mathcal N(0, I).$$

Note the **square roots**: $\bar\alpha_t$ scales the *variance* of the signal, so the signal is scaled by
$\sqrt{\bar\alpha_t}$, and the two variances add up to one. Each example of the batch has its own `t`.
"""),
answer("q_sample", r'''
def q_sample(x_start, t, noise, schedule):
    """Sample x_t ~ q(x_t | x_0) by reparameterisation.

    Args:
        x_start: (B, C, H, W) clean images x_0.
        t: (B,) long time steps.
        noise: (B, C, H, W) standard normal eps.
        schedule: DiffusionSchedule.

    Returns:
        (B, C, H, W) x_t = sqrt(alpha-bar_t) x_0 + sqrt(1 - alpha-bar_t) eps.
    """
    ### BEGIN SOLUTION
    # Ho et al. (2020), eq. 4
    return (extract(schedule.sqrt_alphas_cumprod, t, x_start.shape) * x_start
            + extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_start.shape) * noise)
    ### END SOLUTION
'''),
graded("test_q_sample", r'''
s = make_schedule(torch.full((4,), 0.19, dtype=torch.float64))  # alpha-bar_0 = 0.81, alpha-bar_1 = 0.6561
x0 = torch.ones(2, 1, 2, 2)
noise = torch.full((2, 1, 2, 2), 2.0)
out = q_sample(x0, torch.tensor([0, 1]), noise, s)
assert out.shape == (2, 1, 2, 2), f"expected shape (2, 1, 2, 2), got {tuple(out.shape)}"
expected = torch.tensor([0.9 + 2 * math.sqrt(0.19), 0.81 + 2 * math.sqrt(1 - 0.6561)])
assert not torch.allclose(out[:, 0, 0, 0], torch.tensor([0.81 + 2 * 0.19, 0.6561 + 2 * (1 - 0.6561)]), atol=1e-5), \
    "x_t looks like alpha-bar_t * x_0 + (1 - alpha-bar_t) * noise: both coefficients are square roots"
assert torch.allclose(out[:, 0, 0, 0], expected, atol=1e-5), f"got {out[:, 0, 0, 0].tolist()}, expected {expected.tolist()}"
### BEGIN HIDDEN TESTS
from diffusers import DDPMScheduler
betas = cosine_beta_schedule(100)
s = make_schedule(betas)
ref = DDPMScheduler(num_train_timesteps=100, trained_betas=betas.numpy())
g = torch.Generator().manual_seed(0)
x0, noise = torch.rand(5, 3, 4, 4, generator=g) * 2 - 1, torch.randn(5, 3, 4, 4, generator=g)
t = torch.tensor([0, 7, 50, 93, 99])
assert q_sample(x0, t, noise, s).shape == x0.shape, \
    "x_t must have the shape of x_start for any batch and image size (is the answer hard-coded to the example?)"
assert torch.allclose(q_sample(x0, t, noise, s), ref.add_noise(x0, noise, t), atol=1e-5), \
    "x_t differs from diffusers' add_noise: scale x_0 by sqrt(alpha-bar_t) and the noise by sqrt(1 - alpha-bar_t)"
# x_t's mean and variance over many noise draws
x0 = torch.full((20000, 1, 1, 1), 0.6)
t = torch.full((20000,), 30, dtype=torch.long)
xt = q_sample(x0, t, torch.randn(20000, 1, 1, 1, generator=g), s)
ab = float(np.cumprod(1 - betas.numpy())[30])
assert abs(xt.mean().item() - 0.6 * math.sqrt(ab)) < 0.03, "E[x_t] must be sqrt(alpha-bar_t) x_0"
assert abs(xt.var().item() - (1 - ab)) < 0.03, "Var[x_t] must be 1 - alpha-bar_t"
### END HIDDEN TESTS
''', 2),
md(r"""
Look at the forward process on a few training digits (16x16 in the fast profile): the signal fades as
$\sqrt{\bar\alpha_t}$ shrinks and the image is nearly pure noise at $t = T-1$.
"""),
code(r"""
schedule = make_schedule(beta_schedule(cfg.schedule, cfg.timesteps))
train_set = load_resized(cfg.dataset, cfg.train_split, cfg.image_size)
val_set = load_resized(cfg.dataset, cfg.eval_split, cfg.image_size)
x_show = train_set.images[torch.arange(6) * (len(train_set) // 6)]  # (6, C, H, W), sorted by class: several digits
ts_show = [0, cfg.timesteps // 10, cfg.timesteps // 4, cfg.timesteps // 2, 3 * cfg.timesteps // 4, cfg.timesteps - 1]
g = torch.Generator().manual_seed(0)
eps = torch.randn(x_show.shape, generator=g)
rows = [q_sample(x_show, torch.full((6,), t), eps, schedule) for t in ts_show]  # each (6, C, H, W)
grid = torch.stack(rows, dim=1).flatten(0, 1)  # (6 * len(ts), C, H, W): one image per row, t left to right
show_images(grid.clamp(-1, 1), nrow=len(ts_show), title=f"q(x_t | x_0) at t = {ts_show}", path="figures/forward.png")
plt.show()
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(schedule.sqrt_alphas_cumprod.numpy(), label="sqrt(alpha-bar_t): signal")
ax.plot(schedule.sqrt_one_minus_alphas_cumprod.numpy(), label="sqrt(1 - alpha-bar_t): noise")
ax.set_xlabel("t"); ax.legend(); fig.savefig("figures/schedule.png", dpi=100, bbox_inches="tight")
plt.show()
"""),
md(r"""
## 3. Predicting $x_0$, and the posterior $q(x_{t-1}\mid x_t, x_0)$

If a network predicts the noise $\hat\epsilon$ in $x_t$, the forward equation solved for $x_0$ gives a prediction
of the clean image:

$$\hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\hat\epsilon}{\sqrt{\bar\alpha_t}}.$$
"""),
answer("predict_start_from_noise", r'''
def predict_start_from_noise(x_t, t, noise, schedule):
    """Invert q_sample: x_0 = (x_t - sqrt(1 - alpha-bar_t) eps) / sqrt(alpha-bar_t).

    Args:
        x_t: (B, C, H, W); t: (B,) long; noise: (B, C, H, W) the (predicted) eps; schedule: DiffusionSchedule.

    Returns:
        (B, C, H, W) x_0 (not clipped).
    """
    ### BEGIN SOLUTION
    return ((x_t - extract(schedule.sqrt_one_minus_alphas_cumprod, t, x_t.shape) * noise)
            / extract(schedule.sqrt_alphas_cumprod, t, x_t.shape))
    ### END SOLUTION
'''),
graded("test_predict_start_from_noise", r'''
s = make_schedule(torch.full((4,), 0.19, dtype=torch.float64))
x_t = torch.full((1, 1, 2, 2), 0.9 + 2 * math.sqrt(0.19))
out = predict_start_from_noise(x_t, torch.tensor([0]), torch.full((1, 1, 2, 2), 2.0), s)
assert torch.allclose(out, torch.ones(1, 1, 2, 2), atol=1e-5), out
### BEGIN HIDDEN TESTS
from autograder.reference import diffusion as ref
s = ref.make_schedule(cosine_beta_schedule(100))
g = torch.Generator().manual_seed(1)
x0, noise = torch.rand(6, 3, 4, 4, generator=g) * 2 - 1, torch.randn(6, 3, 4, 4, generator=g)
t = torch.tensor([0, 3, 20, 55, 80, 98])
x_t = ref.q_sample(x0, t, noise, s)
assert torch.allclose(predict_start_from_noise(x_t, t, noise, s), x0, atol=1e-3), \
    "predict_start_from_noise must undo q_sample for every t of the batch"
### END HIDDEN TESTS
''', 1),
md(r"""
**The posterior.** Given $x_0$, the step back from $x_t$ is Gaussian too (Bayes' rule with the two Gaussians
$q(x_{t-1}\mid x_0)$ and $q(x_t\mid x_{t-1})$; Ho et al., eqs. 6-7):

$$q(x_{t-1}\mid x_t, x_0) = \mathcal N\big(\tilde\mu_t(x_t, x_0),\ \tilde\beta_t I\big),\qquad
\tilde\mu_t = \underbrace{\frac{\beta_t\sqrt{\bar\alpha_{t-1}}}{1-\bar\alpha_t}}_{\texttt{coef1}}\,x_0
+ \underbrace{\frac{(1-\bar\alpha_{t-1})\sqrt{\alpha_t}}{1-\bar\alpha_t}}_{\texttt{coef2}}\,x_t,
\qquad \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\,\beta_t .$$

(Derivation: multiply the two densities; the precisions add, $1/\tilde\beta_t = 1/(1-\bar\alpha_{t-1}) + \alpha_t/\beta_t$,
and the mean is the precision-weighted average of $\sqrt{\bar\alpha_{t-1}}x_0$ and $x_t/\sqrt{\alpha_t}$.)
Return the mean `(B, C, H, W)` and the variance and clipped log variance gathered at `t` as `(B, 1, 1, 1)`.
"""),
answer("q_posterior", r'''
def q_posterior(x_start, x_t, t, schedule):
    """Mean, variance and clipped log variance of q(x_{t-1} | x_t, x_0).

    Args:
        x_start: (B, C, H, W) x_0; x_t: (B, C, H, W); t: (B,) long; schedule: DiffusionSchedule.

    Returns:
        (mean (B, C, H, W), variance (B, 1, 1, 1), log_variance (B, 1, 1, 1)) -- the latter two from
        posterior_variance and posterior_log_variance_clipped.
    """
    ### BEGIN SOLUTION
    # Ho et al. (2020), eq. 7
    mean = (extract(schedule.posterior_mean_coef1, t, x_t.shape) * x_start
            + extract(schedule.posterior_mean_coef2, t, x_t.shape) * x_t)
    variance = extract(schedule.posterior_variance, t, x_t.shape)
    log_variance = extract(schedule.posterior_log_variance_clipped, t, x_t.shape)
    return mean, variance, log_variance
    ### END SOLUTION
'''),
graded("test_q_posterior", r'''
s = make_schedule(cosine_beta_schedule(20))
g = torch.Generator().manual_seed(2)
x0, x_t = torch.rand(3, 1, 4, 4, generator=g) * 2 - 1, torch.randn(3, 1, 4, 4, generator=g)
mean, var, logvar = q_posterior(x0, x_t, torch.tensor([0, 5, 19]), s)
assert mean.shape == (3, 1, 4, 4), f"mean: expected (3, 1, 4, 4), got {tuple(mean.shape)}"
assert var.numel() in (3, 3 * 16) and logvar.numel() in (3, 3 * 16), "variance and log_variance: one value per example"
# at t = 0, x_0 is known exactly: the posterior mean is x_0 itself
assert torch.allclose(mean[0], x0[0], atol=1e-5), "at t = 0 the posterior mean must be x_0 (coef1 = 1, coef2 = 0)"
### BEGIN HIDDEN TESTS
from autograder.reference import diffusion as ref
betas = cosine_beta_schedule(20)
s = ref.make_schedule(betas)
t = torch.tensor([1, 5, 12, 19])
x0, x_t = torch.rand(4, 2, 3, 3, generator=g) * 2 - 1, torch.randn(4, 2, 3, 3, generator=g)
mean, var, logvar = q_posterior(x0, x_t, t, s)
# Bayes in float64: precisions add, the mean is the precision-weighted average
b = betas.numpy(); ab = np.cumprod(1 - b); abp = np.concatenate([[1.0], ab[:-1]])
tt = t.numpy()
prec = 1 / (1 - abp[tt]) + (1 - b[tt]) / b[tt]
want_var = 1 / prec
want_mean = want_var[:, None, None, None] * (np.sqrt(abp[tt])[:, None, None, None] * x0.double().numpy() / (1 - abp[tt])[:, None, None, None]
                                             + np.sqrt(1 - b[tt])[:, None, None, None] * x_t.double().numpy() / b[tt][:, None, None, None])
assert np.allclose(mean.numpy(), want_mean, atol=1e-4), "posterior mean: coef1 multiplies x_0, coef2 multiplies x_t"
assert np.allclose(var.expand(4, 2, 3, 3).numpy(), want_var[:, None, None, None] * np.ones((1, 2, 3, 3)), rtol=1e-4), \
    "posterior variance is beta-tilde_t, not beta_t"
assert np.allclose(logvar.expand(4, 2, 3, 3).numpy(), np.log(want_var)[:, None, None, None] * np.ones((1, 2, 3, 3)), atol=1e-4)
### END HIDDEN TESTS
''', 2),
md(r"""
## 4. The training objective

Ho et al. (Sec. 3.2) parameterise the reverse mean through a noise predictor $\epsilon_\theta(x_t, t)$ and show that
the variational bound reduces, up to weights they drop, to the **simple loss** (eq. 14, Algorithm 1):

$$L_\text{simple} = \mathbb E_{t, x_0, \epsilon}\Big[\big\lVert \epsilon - \epsilon_\theta\big(\sqrt{\bar\alpha_t}x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon,\ t\big)\big\rVert^2\Big].$$

Average the squared error over **all** elements (batch, channels, pixels), so the number is comparable across
image sizes: a model that always predicts 0 scores 1.
"""),
answer("ddpm_loss", r'''
def ddpm_loss(model, x_start, t, noise, schedule):
    """The simple DDPM loss: mean squared error between model(x_t, t) and the noise.

    Args:
        model: eps-prediction network, model(x_t, t) -> (B, C, H, W).
        x_start: (B, C, H, W) clean images; t: (B,) long; noise: (B, C, H, W); schedule: DiffusionSchedule.

    Returns:
        scalar: the mean over all B*C*H*W elements.
    """
    ### BEGIN SOLUTION
    x_t = q_sample(x_start, t, noise, schedule)
    return F.mse_loss(model(x_t, t), noise)
    ### END SOLUTION
'''),
graded("test_ddpm_loss", r'''
s = make_schedule(cosine_beta_schedule(10))
g = torch.Generator().manual_seed(3)
x0, noise = torch.rand(4, 1, 4, 4, generator=g) * 2 - 1, torch.randn(4, 1, 4, 4, generator=g)
t = torch.tensor([0, 3, 6, 9])
zero_model = lambda x, t: torch.zeros_like(x)
out = ddpm_loss(zero_model, x0, t, noise, s)
assert out.dim() == 0, f"return a scalar, got shape {tuple(out.shape)}"
assert torch.allclose(out, (noise ** 2).mean()), "a model predicting 0 scores the mean of noise ** 2 (mean, not sum)"
### BEGIN HIDDEN TESTS
from autograder.reference import diffusion as ref
s = ref.make_schedule(cosine_beta_schedule(10))
identity = lambda x, t: x  # predicts x_t itself: the loss checks which x_t was built
ab = s.alphas_cumprod[t].view(-1, 1, 1, 1)
want = ((ab.sqrt() * x0 + (1 - ab).sqrt() * noise - noise) ** 2).mean()
assert torch.allclose(ddpm_loss(identity, x0, t, noise, s), want, atol=1e-5), \
    "the model must see x_t = q_sample(x_start, t, noise) and be compared with the noise"
torch.manual_seed(0)
net = UNet(1, base=8, mults=(1, 2))
value = ddpm_loss(net, x0, t, noise, s)
assert torch.allclose(value, ref.ddpm_loss(net, x0, t, noise, s), atol=1e-5)
value.backward()
assert net.stem.weight.grad is not None and net.stem.weight.grad.abs().sum() > 0, "no gradient reaches the model"
### END HIDDEN TESTS
''', 2),
md(r"""
### Train a model

`course_lib.train.diffusion.train_diffusion` runs Algorithm 1 with **your** `ddpm_loss` and `make_schedule`: it draws
$t\sim\mathcal U\{0,\dots,T-1\}$ and $\epsilon$ for each batch and takes an Adam step. In the `fast` profile this is a short
run (a few hundred steps, about a minute or two on a CPU) whose checkpoint is graded by its **held-out loss**; the sampling
questions below use a longer pretrained run of the same network, shipped with the course. In the `full` profile this is the
real CIFAR-10 training run (a GPU for many hours), and the samples below come from it.

The cell is *load-or-train*: if `checkpoints/ddpm.pt` exists for the active profile it is loaded and nothing trains.
Delete it to retrain after you change `q_sample` or `ddpm_loss`.
"""),
code(r"""
seed_everything(cfg.seed)
model = UNet(cfg.channels, base=cfg.base, mults=cfg.mults, attention=cfg.attention).to(device)
config = TrainConfig(steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, warmup=cfg.warmup,
                     ema_decay=cfg.ema_decay, log_every=max(1, cfg.steps // 30), seed=cfg.seed)
meta = load_or_train(
    "checkpoints/ddpm.pt", model,
    lambda: {"history": train_diffusion(model, ddpm_loss, train_set, schedule, config=config, device=device)},
    profile=PROFILE,
)
model = model.to(device).eval()
history = meta["history"]
print(f"{'loaded' if meta['loaded'] else 'trained'}: last training loss {history['loss'][-1]:.4f}")
plot_curves({"training loss": dict(zip(history["step"], history["loss"]))}, xlabel="step",
            ylabel="mean squared error of eps", title="DDPM training loss", path="figures/loss.png")
plt.show()
"""),
md(r"""
## 5. DDPM sampling: one ancestral step

The reverse process $p_\theta(x_{t-1}\mid x_t)$ uses the posterior of section 3 with $x_0$ replaced by the model's
prediction $\hat x_0$ (Ho et al., Algorithm 2, written through $\hat x_0$ as in their code):

1. $\hat\epsilon = \epsilon_\theta(x_t, t)$ and $\hat x_0 = $ `predict_start_from_noise(x_t, t, eps_hat)`; if `clip_x0`, clamp
   $\hat x_0$ to $[-1, 1]$ (images live there; this stabilises the first, very noisy steps);
2. $x_{t-1} = \tilde\mu_t(x_t, \hat x_0) + \sigma_t z$ with $\sigma_t = \exp(\tfrac12\log\tilde\beta_t)$ and $z$ = `noise`,
3. **except at the last step** (`t == 0`), which returns the mean: no noise is added there.

The mask for step 3 is per example (`t` is a vector). The loop `sample_ddpm` (given) starts from $x_{T-1}\sim\mathcal N(0, I)$
and calls your `p_sample` for $t = T-1, \dots, 0$.
"""),
answer("p_sample", r'''
def p_sample(model, x_t, t, noise, schedule, clip_x0=True):
    """One DDPM ancestral step x_t -> x_{t-1}.

    Args:
        model: eps-prediction network; x_t: (B, C, H, W); t: (B,) long (all equal in the sampling loop);
        noise: (B, C, H, W) standard normal z; schedule: DiffusionSchedule;
        clip_x0: clamp the predicted x_0 to [-1, 1] before computing the posterior mean.

    Returns:
        (B, C, H, W) x_{t-1} = mu-tilde(x_t, x0_hat) + [t > 0] exp(log_variance / 2) * noise.
    """
    ### BEGIN SOLUTION
    x0_hat = predict_start_from_noise(x_t, t, model(x_t, t), schedule)
    if clip_x0:
        x0_hat = x0_hat.clamp(-1.0, 1.0)
    mean, _, log_variance = q_posterior(x0_hat, x_t, t, schedule)
    nonzero = (t != 0).to(x_t.dtype).view(-1, *([1] * (x_t.dim() - 1)))  # (B, 1, 1, 1): no noise at t = 0
    return mean + nonzero * torch.exp(0.5 * log_variance) * noise
    ### END SOLUTION
'''),
graded("test_p_sample", r'''
s = make_schedule(cosine_beta_schedule(20))
torch.manual_seed(0)
net = UNet(1, base=8, mults=(1, 2)).eval()
g = torch.Generator().manual_seed(4)
x_t = torch.randn(2, 1, 8, 8, generator=g)
z1, z2 = torch.randn(2, 1, 8, 8, generator=g), torch.randn(2, 1, 8, 8, generator=g)
with torch.no_grad():
    last = [p_sample(net, x_t, torch.zeros(2, dtype=torch.long), z, s) for z in (z1, z2)]
    mid = [p_sample(net, x_t, torch.full((2,), 10), z, s) for z in (z1, z2)]
assert last[0].shape == (2, 1, 8, 8)
assert torch.allclose(last[0], last[1]), "no noise may be added at the last step (t == 0)"
assert not torch.allclose(mid[0], mid[1]), "noise must be added for t > 0"
### BEGIN HIDDEN TESTS
from diffusers import DDPMScheduler
from autograder.reference import diffusion as ref
betas = cosine_beta_schedule(20)
s = ref.make_schedule(betas)
for clip in (True, False):
    sched = DDPMScheduler(num_train_timesteps=20, trained_betas=betas.numpy(), clip_sample=clip)
    for t in (19, 10, 1, 0):
        x = 1.5 * torch.randn(2, 1, 8, 8, generator=g)
        with torch.no_grad():
            eps = net(x, torch.full((2,), t))
            want = sched.step(eps, t, x, generator=torch.Generator().manual_seed(t)).prev_sample
            got = p_sample(net, x, torch.full((2,), t), torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(t)),
                           s, clip_x0=clip)
        assert torch.allclose(got, want, atol=1e-4), (
            f"t={t}, clip_x0={clip}: differs from diffusers' DDPMScheduler.step (std = exp(log_variance / 2), "
            "clip x0_hat only when clip_x0, no noise at t = 0)")
# a batch with mixed time steps: only the t == 0 examples get no noise
with torch.no_grad():
    tt = torch.tensor([0, 5])
    a, b = p_sample(net, x_t, tt, z1, s), p_sample(net, x_t, tt, z2, s)
assert torch.allclose(a[0], b[0]) and not torch.allclose(a[1], b[1]), "the t == 0 mask must be per example"
### END HIDDEN TESTS
''', 2),
md(r"""
## 6. DDIM: the same model, fewer steps

Song et al. (2021) observe that the loss only depends on the marginals $q(x_t\mid x_0)$, so many non-Markovian forward
processes share the trained $\epsilon_\theta$. Their reverse step from $t$ to an *earlier* step $s$ (eq. 12) is

$$x_{s} = \sqrt{\bar\alpha_{s}}\;\hat x_0 + \sqrt{1-\bar\alpha_{s}-\sigma_t^2}\;\hat\epsilon + \sigma_t z,
\qquad \sigma_t = \eta\sqrt{\frac{1-\bar\alpha_{s}}{1-\bar\alpha_t}}\sqrt{1-\frac{\bar\alpha_t}{\bar\alpha_{s}}} .$$

* $\eta = 0$ is deterministic (DDIM proper); the same noise $x_T$ always gives the same image.
* $s$ need not be $t-1$: the sampler `sample_ddim(..., steps=S)` visits $S$ evenly spaced steps, which is where the
  speed-up comes from. The last call has `t_prev = -1`, where $\bar\alpha_{-1} = 1$: it returns $\hat x_0$.
* With $\eta = 1$ and $s = t-1$, $\sigma_t^2 = \tilde\beta_t$ and the step is exactly DDPM's posterior step (test below).

Use $\hat\epsilon = \epsilon_\theta(x_t, t)$, $\hat x_0$ = `predict_start_from_noise`, clamped when `clip_x0`, and keep
$\hat\epsilon$ as the model predicted it (as diffusers does by default). Careful with `t_prev = -1`: indexing a tensor
with -1 returns its *last* entry.
"""),
answer("ddim_step", r'''
def ddim_step(model, x_t, t, t_prev, noise, schedule, eta, clip_x0=True):
    """One DDIM step x_t -> x_{t_prev} (Song et al. 2021, eq. 12).

    Args:
        model: eps-prediction network; x_t: (B, C, H, W); t: (B,) long;
        t_prev: (B,) long, an earlier step (< t), or -1 for the final step to x_0 (alpha-bar = 1);
        noise: (B, C, H, W) standard normal z (unused when eta = 0); schedule: DiffusionSchedule;
        eta: 0 (deterministic) .. 1 (DDPM's variance); clip_x0: clamp the predicted x_0 to [-1, 1].

    Returns:
        (B, C, H, W) x_{t_prev}.
    """
    ### BEGIN SOLUTION
    eps = model(x_t, t)
    x0_hat = predict_start_from_noise(x_t, t, eps, schedule)
    if clip_x0:
        x0_hat = x0_hat.clamp(-1.0, 1.0)
    ab_t = extract(schedule.alphas_cumprod, t, x_t.shape)
    ab_prev = torch.where(t_prev >= 0, schedule.alphas_cumprod.to(t.device)[t_prev.clamp(min=0)],
                          torch.ones((), device=t.device))
    ab_prev = ab_prev.view(-1, *([1] * (x_t.dim() - 1))).to(x_t.dtype)  # (B, 1, 1, 1)
    # Song et al. (2021), eq. 16
    sigma = eta * torch.sqrt((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev))
    direction = torch.sqrt((1 - ab_prev - sigma ** 2).clamp(min=0.0)) * eps
    return torch.sqrt(ab_prev) * x0_hat + direction + sigma * noise
    ### END SOLUTION
'''),
graded("test_ddim_step", r'''
s = make_schedule(cosine_beta_schedule(20))
torch.manual_seed(0)
net = UNet(1, base=8, mults=(1, 2)).eval()
g = torch.Generator().manual_seed(5)
x_t = torch.randn(2, 1, 8, 8, generator=g)
z1, z2 = torch.randn(2, 1, 8, 8, generator=g), torch.randn(2, 1, 8, 8, generator=g)
full = lambda v: torch.full((2,), v, dtype=torch.long)
with torch.no_grad():
    a, b = (ddim_step(net, x_t, full(15), full(10), z, s, 0.0) for z in (z1, z2))
    try:
        final = ddim_step(net, x_t, full(3), full(-1), z1, s, 0.0)
    except (IndexError, RuntimeError) as exc:
        raise AssertionError(f"the last step (t_prev = -1) failed: {exc}. alpha-bar at t_prev = -1 is 1 by "
                             "definition; -1 is not an index into the schedule") from exc
    x0_hat = predict_start_from_noise(x_t, full(3), net(x_t, full(3)), s).clamp(-1, 1)
assert a.shape == (2, 1, 8, 8)
assert torch.allclose(a, b), "eta = 0 is deterministic: the noise must not matter"
assert torch.allclose(final, x0_hat, atol=1e-5), "the final step (t_prev = -1, alpha-bar = 1) returns the predicted x_0"
### BEGIN HIDDEN TESTS
from diffusers import DDIMScheduler
from autograder.reference import diffusion as ref
betas = cosine_beta_schedule(20)
s = ref.make_schedule(betas)
for clip in (True, False):
    sched = DDIMScheduler(num_train_timesteps=20, trained_betas=betas.numpy(), clip_sample=clip, set_alpha_to_one=True)
    sched.set_timesteps(4)  # stride 5: t -> t - 5, and t < 5 -> the final step
    for t, t_prev in ((19, 14), (10, 5), (4, -1)):
        for eta in (0.0, 0.5, 1.0):
            x = 1.5 * torch.randn(2, 1, 8, 8, generator=g)
            z = torch.randn(2, 1, 8, 8, generator=g)
            with torch.no_grad():
                want = sched.step(net(x, full(t)), t, x, eta=eta, variance_noise=z).prev_sample
                got = ddim_step(net, x, full(t), full(t_prev), z, s, eta, clip_x0=clip)
            assert torch.allclose(got, want, atol=1e-4), (
                f"t={t} -> {t_prev}, eta={eta}, clip_x0={clip}: differs from diffusers' DDIMScheduler.step")
### END HIDDEN TESTS
''', 2),
graded("test_ddim_eta_one", r'''
# eta = 1 with t_prev = t - 1: the added noise has DDPM's posterior variance beta-tilde_t
s = make_schedule(cosine_beta_schedule(20))
torch.manual_seed(0)
net = UNet(1, base=8, mults=(1, 2)).eval()
g = torch.Generator().manual_seed(6)
x_t = torch.randn(1, 1, 8, 8, generator=g)
z = torch.randn(1, 1, 8, 8, generator=g)
for t in (19, 10, 1):
    with torch.no_grad():
        a = ddim_step(net, x_t, torch.tensor([t]), torch.tensor([t - 1]), z, s, 1.0)
        b = ddim_step(net, x_t, torch.tensor([t]), torch.tensor([t - 1]), torch.zeros_like(z), s, 1.0)
    sigma = ((a - b) / z).mean().item()
    assert abs(sigma ** 2 / s.posterior_variance[t].item() - 1) < 1e-3, \
        f"t={t}: sigma^2 = {sigma ** 2:.6f}, DDPM's posterior variance is {s.posterior_variance[t].item():.6f}"
### BEGIN HIDDEN TESTS
from autograder.reference import diffusion as ref
betas = cosine_beta_schedule(20)
s = ref.make_schedule(betas)
b_ = betas.numpy(); ab = np.cumprod(1 - b_); abp = np.concatenate([[1.0], ab[:-1]])
for t in range(20):  # every step, the final one (t_prev = -1) included
    x = 1.5 * torch.randn(2, 1, 8, 8, generator=g)
    z = torch.randn(2, 1, 8, 8, generator=g)
    tt, tp = torch.full((2,), t), torch.full((2,), t - 1)
    with torch.no_grad():
        got = ddim_step(net, x, tt, tp, z, s, 1.0, clip_x0=False)
        x0 = ref.predict_start_from_noise(x, tt, net(x, tt), s).double()
    # DDPM's posterior q(x_{t-1} | x_t, x0_hat): mean and variance in float64
    mean = (b_[t] * np.sqrt(abp[t]) / (1 - ab[t])) * x0.numpy() + ((1 - abp[t]) * np.sqrt(1 - b_[t]) / (1 - ab[t])) * x.double().numpy()
    want = mean + np.sqrt(b_[t] * (1 - abp[t]) / (1 - ab[t])) * z.double().numpy()
    assert np.allclose(got.numpy(), want, atol=2e-4), f"t={t}: DDIM with eta = 1 must equal DDPM's posterior step"
### END HIDDEN TESTS
''', 1),
md(r"""
## 7. Samples: DDPM and DDIM, their FID and their cost

We sample from the sampling model (in the `fast` profile the pretrained one in `course_lib/assets/`; in the `full`
profile your trained checkpoint) with your `p_sample` (all $T$ steps) and your `ddim_step` ($\eta = 0$) at several step
counts, and score each set with the FID against held-out images: the Frechet distance between Gaussians fitted to
features of the two sets (lower is better). The `fast` profile's features come from a small digit classifier shipped
with the course and the FID here uses only `cfg.demo_samples` samples per set (the grader uses more), so its values
are only comparable within this notebook: with few samples the FID is biased upwards.
"""),
code(r"""
sampler = UNet(cfg.channels, base=cfg.base, mults=cfg.mults, attention=cfg.attention)
sampler_meta = load_into(sampler, pretrained_path(cfg.pretrained)) if cfg.pretrained else None
if sampler_meta is None:
    sampler = model  # full profile: sample from the model trained above
sampler = sampler.to(device).eval()
extractor = get_extractor(cfg.extractor)
reference = reference_statistics(cfg.dataset, cfg.eval_split, extractor, image_size=cfg.image_size)


def sample_set(loop, step_fn, **kwargs):
    # cfg.demo_samples samples in chunks of cfg.sample_batch, seed 0: (N, C, H, W) on the CPU
    g = torch.Generator(device).manual_seed(0)
    chunks = [loop(sampler, step_fn, schedule, (min(cfg.sample_batch, cfg.demo_samples - i), cfg.channels,
                                                 cfg.image_size, cfg.image_size), generator=g, device=device, **kwargs).cpu()
              for i in range(0, cfg.demo_samples, cfg.sample_batch)]
    return torch.cat(chunks)  # (N, C, H, W)


results = {}
for name, loop, step_fn, kwargs in [(f"DDPM {cfg.timesteps}", sample_ddpm, p_sample, {})] + [
        (f"DDIM {steps}", sample_ddim, ddim_step, {"steps": steps, "eta": 0.0}) for steps in cfg.ddim_steps]:
    start = time.perf_counter()
    samples = sample_set(loop, step_fn, **kwargs)
    seconds = time.perf_counter() - start
    results[name] = (fid_score(samples.clamp(-1, 1), extractor, reference), seconds, samples)
for name, (value, seconds, _) in results.items():
    print(f"{name:>10} steps: FID {value:7.1f}   {seconds:6.1f} s for {cfg.demo_samples} samples")
"""),
code(r"""
fig, axes = plt.subplots(1, len(results), figsize=(3.2 * len(results), 3.6))
for ax, (name, (value, seconds, samples)) in zip(axes, results.items()):
    show_images(samples[:36].clamp(-1, 1), nrow=6, ax=ax, title=f"{name} steps\nFID {value:.1f}, {seconds:.1f} s")
fig.tight_layout()
fig.savefig("figures/samples.png", dpi=100, bbox_inches="tight")
plt.show()
"""),
md(r"""
DDPM needs all $T$ network evaluations; DDIM with a handful of steps is many times cheaper, and its quality degrades
gracefully as the step count falls. (With a model this small and $T = 100$ the gap is larger than on CIFAR-10 with
$T = 1000$, where DDIM with 50-100 steps matches DDPM; Song et al., Table 1.)

### The trajectory of one DDPM run

The slider walks through a saved sampling run of eight images: on the left $x_t$, on the right the model's prediction
$\hat x_0$ at that step. At the very first step ($t = T-1$, where $\bar\alpha_t$ is almost 0) the prediction is
meaningless: dividing by $\sqrt{\bar\alpha_t}$ amplifies every error of $\hat\epsilon$. A few steps later $\hat x_0$ is a
blurry average digit; the coarse shape is decided in the first half of the run and the last steps only sharpen
details. (Moving the slider only redraws saved images.)
"""),
code(r"""
traj = ddpm_trajectory(sampler, p_sample, predict_start_from_noise, schedule,
                       (8, cfg.channels, cfg.image_size, cfg.image_size),
                       generator=torch.Generator(device).manual_seed(3), device=device)
trajectory_frame(traj, cfg.timesteps // 2).savefig("figures/trajectory.png", dpi=100, bbox_inches="tight")
plt.close("all")
trajectory_slider(traj, t=cfg.timesteps // 2)
"""),
md(r"""
## 8. Thresholds

The grader samples with **your** `p_sample` and `ddim_step` from the sampling model with its own seed and loop, scores
the samples with its own FID code, and evaluates the held-out noise-prediction loss of your `checkpoints/ddpm.pt` with
its own forward process (the numbers printed above are not trusted). In the `full` profile: FID < 60 for DDPM
(1,000 steps) and DDIM (100 steps); in the `fast` profile the thresholds were calibrated on this setting (see the
course's docs/calibration).
"""),
graded("test_threshold_fid_ddpm", r'''
print(f"profile {PROFILE}: FID of {cfg.fid_samples} DDPM samples ({cfg.timesteps} steps) must be < {cfg.max_fid_ddpm}")
### BEGIN HIDDEN TESTS
from autograder.reference.diffusion import check_fid_threshold
print(check_fid_threshold("ddpm", p_sample))
### END HIDDEN TESTS
''', 2),
graded("test_threshold_fid_ddim", r'''
print(f"profile {PROFILE}: FID of {cfg.fid_samples} DDIM samples ({cfg.ddim_eval_steps} steps, eta 0) must be < {cfg.max_fid_ddim}")
### BEGIN HIDDEN TESTS
from autograder.reference.diffusion import check_fid_threshold
print(check_fid_threshold("ddim", ddim_step))
### END HIDDEN TESTS
''', 2),
graded("test_threshold_heldout_loss", r'''
print(f"profile {PROFILE}: held-out noise-prediction loss of checkpoints/ddpm.pt must be < {cfg.max_heldout_loss}")
### BEGIN HIDDEN TESTS
from autograder.reference.diffusion import check_loss_threshold
print(check_loss_threshold("checkpoints/ddpm.pt"))
### END HIDDEN TESTS
''', 2),
md(r"""
## Notes

* **Why predict the noise?** Predicting $\epsilon$ (rather than $x_0$ or $\tilde\mu_t$) gives a loss whose scale is the
  same at every $t$, and Ho et al. found it gives the best samples with the simple unweighted loss.
* **Variance choices.** Ho et al. report similar results with $\sigma_t^2 = \beta_t$ and $\sigma_t^2 = \tilde\beta_t$; this
  course uses $\tilde\beta_t$ (diffusers' `fixed_small`). Nichol & Dhariwal (2021) learn an interpolation of the two.
* **Clipping.** Clamping $\hat x_0$ to $[-1, 1]$ is a sampling-time trick; it is not part of the model or the loss.
"""),
]


def build() -> nbformat.NotebookNode:
    return cells.build(CELLS)


if __name__ == "__main__":
    cells.write(CELLS, OUT)
