"""Reference implementation and evaluators of 03_diffusion (instructors only; used by hidden tests,
the calibration script and scripts/train_diffusion_fast.py).

The functions here are written from the papers' equations (Ho et al. 2020, eqs. 4, 7, 11, 14;
Song et al. 2021, eq. 12) in float64 on the schedule's betas, independently of the notebook's code.
Threshold tests call :func:`check_fid_threshold` (samples drawn with the student's ``p_sample`` /
``ddim_step`` and this module's schedule from the pretrained model, the course's asset in the fast profile
and the DDPM paper's CIFAR-10 model in the full one, through course_lib's graded sampling
harness with a fixed seed, scored by its FID) and :func:`check_loss_threshold` (the submitted checkpoint's
noise-prediction loss on held-out digits, with this module's ``ddpm_loss`` and schedule).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from course_lib.device import get_device
from course_lib.diffusion import DiffusionSchedule, beta_schedule, graded_fid, load_sampling_model, load_unet
from course_lib.diffusion import heldout_loss as _heldout_loss
from course_lib.diffusion import pretrained_path as _asset
from course_lib.nets.unet import UNet
from course_lib.profiles import get_profile

ASSIGNMENT = "03_diffusion"


def make_schedule(betas: torch.Tensor) -> DiffusionSchedule:
    """All schedule constants from betas (T,), in float64, stored as float32."""
    b = betas.detach().to(torch.float64).cpu()
    T = b.shape[0]
    a = 1.0 - b
    abar = torch.tensor([float(torch.prod(a[: i + 1])) for i in range(T)], dtype=torch.float64)  # explicit products
    abar_prev = torch.cat([torch.ones(1, dtype=torch.float64), abar[:-1]])
    post_var = b * (1.0 - abar_prev) / (1.0 - abar)  # Ho et al. eq. 7, beta-tilde
    post_logvar = torch.log(torch.cat([post_var[1:2], post_var[1:]]))
    fields = dict(
        betas=b,
        alphas=a,
        alphas_cumprod=abar,
        alphas_cumprod_prev=abar_prev,
        sqrt_alphas_cumprod=abar.sqrt(),
        sqrt_one_minus_alphas_cumprod=(1.0 - abar).sqrt(),
        posterior_variance=post_var,
        posterior_log_variance_clipped=post_logvar,
        posterior_mean_coef1=b * abar_prev.sqrt() / (1.0 - abar),
        posterior_mean_coef2=(1.0 - abar_prev) * a.sqrt() / (1.0 - abar),
    )
    return DiffusionSchedule(**{k: v.float() for k, v in fields.items()})


def _at(values: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return values.to(x.device)[t.long()].view(-1, *([1] * (x.dim() - 1))).to(x.dtype)  # (B, 1, 1, 1)


def q_sample(x_start, t, noise, schedule):
    """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps (Ho et al. eq. 4)."""
    abar = _at(schedule.alphas_cumprod, t, x_start)
    return abar.sqrt() * x_start + (1 - abar).sqrt() * noise


def predict_start_from_noise(x_t, t, noise, schedule):
    abar = _at(schedule.alphas_cumprod, t, x_t)
    return (x_t - (1 - abar).sqrt() * noise) / abar.sqrt()


def q_posterior(x_start, x_t, t, schedule):
    """Mean, variance and clipped log variance of q(x_{t-1} | x_t, x_0) (Ho et al. eqs. 6-7).

    The coefficients are computed in float64 from the betas: 1 - alpha-bar_t of the first steps is a difference
    of numbers close to 1, of which alpha-bar stored in float32 keeps about three digits at T = 1000."""
    b = schedule.betas.detach().to(torch.float64).cpu()
    abar = torch.cumprod(1.0 - b, dim=0)
    abar_prev = torch.cat([torch.ones(1, dtype=torch.float64), abar[:-1]])
    coef_x0 = abar_prev.sqrt() * b / (1 - abar)
    coef_xt = (1 - b).sqrt() * (1 - abar_prev) / (1 - abar)
    var = b * (1 - abar_prev) / (1 - abar)
    mean = _at(coef_x0, t, x_t) * x_start + _at(coef_xt, t, x_t) * x_t
    return mean, _at(var, t, x_t).expand_as(x_t), _at(schedule.posterior_log_variance_clipped, t, x_t).expand_as(x_t)


def ddpm_loss(model, x_start, t, noise, schedule):
    return ((model(q_sample(x_start, t, noise, schedule), t) - noise) ** 2).mean()


def p_sample(model, x_t, t, noise, schedule, clip_x0=True):
    x0 = predict_start_from_noise(x_t, t, model(x_t, t), schedule)
    if clip_x0:
        x0 = x0.clamp(-1, 1)
    mean, _, logvar = q_posterior(x0, x_t, t, schedule)
    nonzero = (t != 0).float().view(-1, *([1] * (x_t.dim() - 1)))
    return mean + nonzero * (0.5 * logvar).exp() * noise


def ddim_step(model, x_t, t, t_prev, noise, schedule, eta, clip_x0=True):
    """Song et al. (2021) eq. 12 with sigma_t(eta) of eq. 16; t_prev = -1 means alpha-bar = 1."""
    eps = model(x_t, t)
    abar = _at(schedule.alphas_cumprod, t, x_t)
    abar_prev = torch.where(
        t_prev >= 0, schedule.alphas_cumprod.to(x_t.device)[t_prev.clamp_min(0)], torch.ones((), device=x_t.device)
    ).view(-1, *([1] * (x_t.dim() - 1)))
    x0 = (x_t - (1 - abar).sqrt() * eps) / abar.sqrt()
    if clip_x0:
        x0 = x0.clamp(-1, 1)
    sigma = eta * ((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev)).clamp_min(0).sqrt()
    return abar_prev.sqrt() * x0 + (1 - abar_prev - sigma**2).clamp_min(0).sqrt() * eps + sigma * noise


# ----------------------------------------------------------------------------- evaluators
# The loops are course_lib's harnesses (course_lib.diffusion.graded_fid / heldout_loss), which the visible
# parts of the threshold cells call with the student's functions and schedule; here they get the reference
# schedule and, for the loss, the reference ddpm_loss.


def build_model(cfg) -> UNet:
    return UNet(cfg.channels, base=cfg.base, mults=cfg.mults, attention=cfg.attention)


def reference_schedule(cfg) -> DiffusionSchedule:
    return make_schedule(beta_schedule(cfg.schedule, cfg.timesteps))


def load_model(path, cfg) -> UNet:
    return load_unet(path, cfg)


def pretrained_path(cfg) -> Path:
    if not cfg.pretrained:
        raise ValueError("this profile ships no pretrained model; train one (checkpoints/ddpm.pt)")
    return _asset(cfg.pretrained)


def _device() -> torch.device:
    return get_device()


def sample_fid(kind: str, step_fn, cfg, checkpoint: str | os.PathLike = "checkpoints/ddpm.pt") -> float:
    """FID of the graded samples drawn with the student's ``step_fn`` (``p_sample`` for kind "ddpm",
    ``ddim_step`` for "ddim") and the reference schedule from the profile's sampling model: the shipped
    pretrained U-Net (fast), the pretrained diffusers model (full; a missing folder raises its
    PretrainedMissingError, an instructor's matter), or the submitted checkpoint where the profile has neither."""
    if not (cfg.pretrained or cfg.pretrained_hub) and not Path(checkpoint).exists():
        raise AssertionError(f"no model at {checkpoint}: run the training cell (it saves the model there)")
    model = load_sampling_model(cfg, checkpoint, device=_device())
    return graded_fid(kind, step_fn, model, reference_schedule(cfg), cfg, device=_device())


def check_fid_threshold(kind: str, step_fn, checkpoint: str | os.PathLike = "checkpoints/ddpm.pt") -> float:
    """Sample with the student's step function from the profile's sampling model (see :func:`sample_fid`) and
    assert the FID is below the profile's threshold. Returns the FID."""
    cfg = get_profile(ASSIGNMENT)
    value = sample_fid(kind, step_fn, cfg, checkpoint)
    limit = cfg.max_fid_ddpm if kind == "ddpm" else cfg.max_fid_ddim
    hint = (
        "no noise at t = 0, the posterior's standard deviation is exp(log_variance / 2)"
        if kind == "ddpm"
        else "alpha-bar of t_prev = -1 is 1, sigma_t follows eta"
    )
    assert value == value and value < limit, f"{kind.upper()} samples have FID {value:.1f}, above {limit} ({hint})"
    return value


def heldout_loss(model, cfg, *, seed: int = 0) -> float:
    """Mean squared error of the eps prediction on held-out images, ``cfg.loss_eval_repeats`` (t, noise)
    draws per image from a fixed generator, with the reference forward process and schedule."""
    return _heldout_loss(model, ddpm_loss, reference_schedule(cfg), cfg, seed=seed, device=_device())


def evaluate_checkpoint(path: str | os.PathLike, cfg) -> dict[str, float]:
    """``{"heldout_loss": ...}`` of the trained checkpoint at ``path`` (:func:`heldout_loss`). The FID cells
    sample with the student's step functions instead (:func:`sample_fid`)."""
    path = Path(path)
    if not path.exists():
        raise AssertionError(f"no checkpoint at {path}: run the training cell (it saves the model there)")
    return {"heldout_loss": heldout_loss(load_model(path, cfg), cfg)}


def check_loss_threshold(path: str | os.PathLike = "checkpoints/ddpm.pt") -> float:
    """Assert the held-out noise-prediction loss of the trained checkpoint is below the threshold."""
    cfg = get_profile(ASSIGNMENT)
    value = evaluate_checkpoint(path, cfg)["heldout_loss"]
    assert value < cfg.max_heldout_loss, (
        f"held-out noise-prediction loss {value:.4f} is above {cfg.max_heldout_loss}: check q_sample (the square "
        "roots of alpha-bar) and that ddpm_loss compares the prediction with the noise, averaged over all elements"
    )
    return value
