"""Diffusion helpers that are not student tasks: beta schedules, the schedule container, and the
DDPM / DDIM sampling loops.

* :func:`linear_beta_schedule` (Ho et al., 2020) and :func:`cosine_beta_schedule` (Nichol & Dhariwal,
  2021) return ``betas`` of shape (T,) in float64.
* :class:`DiffusionSchedule` holds the quantities the student's ``make_schedule(betas)`` computes,
  as float32 tensors (computed in float64 first); ``schedule.to(device)`` moves them all.
* :func:`extract` gathers ``a[t]`` for a batch of time steps and reshapes it to broadcast over images.
* :func:`sample_ddpm` and :func:`sample_ddim` are the sampling loops; they take the student's
  ``p_sample`` / ``ddim_step`` as arguments and draw all the noise themselves from a seeded generator.

Conventions: images in [-1, 1], shape (B, C, H, W); time steps ``t`` are ``torch.long`` of shape (B,)
with values in ``0 .. T-1`` (``t = 0`` is the first noising step, as in diffusers and lucidrains).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .device import get_device
from .progress import progress

if TYPE_CHECKING:
    from .assignments.diffusion.profile import DiffusionProfile
    from .data import Dataset

SCHEDULE_FIELDS = (
    "betas",
    "alphas",
    "alphas_cumprod",
    "alphas_cumprod_prev",
    "sqrt_alphas_cumprod",
    "sqrt_one_minus_alphas_cumprod",
    "posterior_variance",
    "posterior_log_variance_clipped",
    "posterior_mean_coef1",
    "posterior_mean_coef2",
)


def linear_beta_schedule(timesteps: int, *, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """Ho et al. (2020), Sec. 4: betas linear from 1e-4 to 0.02 for T = 1000, rescaled by 1000 / T.

    Returns:
        (T,) float64.
    """
    if not isinstance(timesteps, int) or timesteps < 1:
        raise ValueError(f"timesteps must be a positive int, got {timesteps!r}")
    scale = 1000 / timesteps
    if scale * beta_end >= 1:
        raise ValueError(
            f"T = {timesteps} is too short for the linear schedule: beta_end rescaled by 1000 / T is "
            f"{scale * beta_end:g} >= 1; use T > {1000 * beta_end:g}"
        )
    return torch.linspace(scale * beta_start, scale * beta_end, timesteps, dtype=torch.float64)


def cosine_beta_schedule(timesteps: int, *, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Nichol & Dhariwal (2021), eq. 17: alpha-bar(t) = cos^2(((t/T + s) / (1 + s)) pi / 2).

    Returns:
        (T,) float64 betas_t = 1 - alpha-bar(t+1) / alpha-bar(t), clipped to ``max_beta``.
    """
    if not isinstance(timesteps, int) or timesteps < 1:
        raise ValueError(f"timesteps must be a positive int, got {timesteps!r}")
    steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps  # (T + 1,)
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    alphas_cumprod = f / f[0]
    betas = 1 - alphas_cumprod[1:] / alphas_cumprod[:-1]
    return betas.clamp(0.0, max_beta)


def beta_schedule(name: str, timesteps: int) -> torch.Tensor:
    """``"linear"`` or ``"cosine"`` betas of length ``timesteps`` (float64)."""
    if name == "linear":
        return linear_beta_schedule(timesteps)
    if name == "cosine":
        return cosine_beta_schedule(timesteps)
    raise ValueError(f"unknown beta schedule {name!r}; expected 'linear' or 'cosine'")


@dataclasses.dataclass(frozen=True)
class DiffusionSchedule:
    """The per-time-step constants of a diffusion (Ho et al. 2020), each a (T,) float32 tensor.

    Attributes:
        betas: beta_t.
        alphas: alpha_t = 1 - beta_t.
        alphas_cumprod: alpha-bar_t = prod_{s <= t} alpha_s.
        alphas_cumprod_prev: alpha-bar_{t-1}, with alpha-bar_{-1} = 1.
        sqrt_alphas_cumprod, sqrt_one_minus_alphas_cumprod: sqrt(alpha-bar_t), sqrt(1 - alpha-bar_t).
        posterior_variance: beta-tilde_t = beta_t (1 - alpha-bar_{t-1}) / (1 - alpha-bar_t) (eq. 7).
        posterior_log_variance_clipped: log beta-tilde_t with the t = 0 entry (which is 0) replaced by
            the t = 1 entry, so the log stays finite.
        posterior_mean_coef1, posterior_mean_coef2: the coefficients of x_0 and x_t in the posterior
            mean mu-tilde_t (eq. 7).
    """

    betas: torch.Tensor
    alphas: torch.Tensor
    alphas_cumprod: torch.Tensor
    alphas_cumprod_prev: torch.Tensor
    sqrt_alphas_cumprod: torch.Tensor
    sqrt_one_minus_alphas_cumprod: torch.Tensor
    posterior_variance: torch.Tensor
    posterior_log_variance_clipped: torch.Tensor
    posterior_mean_coef1: torch.Tensor
    posterior_mean_coef2: torch.Tensor

    def __post_init__(self) -> None:
        T = None
        for name in SCHEDULE_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"DiffusionSchedule.{name} must be a tensor, got {type(value).__name__}")
            if value.dim() != 1:
                raise ValueError(f"DiffusionSchedule.{name} must have shape (T,), got {tuple(value.shape)}")
            T = value.shape[0] if T is None else T
            if value.shape[0] != T:
                raise ValueError(f"DiffusionSchedule.{name} has {value.shape[0]} entries, betas has {T}")

    @property
    def num_timesteps(self) -> int:
        """T."""
        return self.betas.shape[0]

    def to(self, device: torch.device | str) -> DiffusionSchedule:
        """A copy with every tensor on ``device``."""
        return DiffusionSchedule(**{k: getattr(self, k).to(device) for k in SCHEDULE_FIELDS})


def extract(a: torch.Tensor, t: torch.Tensor, x_shape: Sequence[int]) -> torch.Tensor:
    """Gather ``a[t]`` and reshape it to broadcast over a batch of images.

    Args:
        a: (T,) a schedule tensor.
        t: (B,) long time steps in 0 .. T-1.
        x_shape: the images' shape (B, C, H, W).

    Returns:
        (B, 1, 1, 1) (as many singleton dimensions as ``x_shape`` has after B).
    """
    if t.dim() != 1:
        raise ValueError(f"t must have shape (B,), got {tuple(t.shape)}")
    out = a.to(t.device).gather(0, t.long())  # (B,)
    return out.view(t.shape[0], *([1] * (len(x_shape) - 1)))  # (B, 1, 1, 1)


PSampleFn = Callable[..., torch.Tensor]  # p_sample(model, x_t, t, noise, schedule, clip_x0=...)
DdimStepFn = Callable[..., torch.Tensor]  # ddim_step(model, x_t, t, t_prev, noise, schedule, eta, clip_x0=...)


def _full(B: int, value: int, device) -> torch.Tensor:
    return torch.full((B,), int(value), dtype=torch.long, device=device)  # (B,)


@torch.no_grad()
def sample_ddpm(
    model: torch.nn.Module,
    p_sample: PSampleFn,
    schedule: DiffusionSchedule,
    shape: Sequence[int],
    *,
    generator: torch.Generator,
    device: torch.device | str | None = None,
    clip_x0: bool = True,
    record: Sequence[int] = (),
    show_progress: bool = True,
) -> torch.Tensor | tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """Ancestral sampling (Ho et al. 2020, Algorithm 2): x_T ~ N(0, I), then T calls of ``p_sample``.

    Args:
        model: eps-prediction network ``model(x_t, t)``.
        p_sample: the student's ``p_sample(model, x_t, t, noise, schedule, clip_x0=...)``.
        schedule: a :class:`DiffusionSchedule` (moved to ``device`` here).
        shape: (B, C, H, W).
        generator: the only source of randomness (x_T and every step's noise, drawn on its device).
        record: time steps t whose input x_t to keep (for the trajectory widget).

    Returns:
        ``x_0`` (B, C, H, W) in about [-1, 1], or ``(x_0, {t: x_t})`` when ``record`` is given.
    """
    device = get_device(device)
    schedule = schedule.to(device)
    model.eval()
    gdev = generator.device
    x = torch.randn(*shape, generator=generator, device=gdev).to(device)  # (B, C, H, W) = x_T
    kept = {}
    steps = range(schedule.num_timesteps - 1, -1, -1)
    for i in progress(steps, desc="DDPM steps") if show_progress else steps:
        if i in record:
            kept[i] = x.cpu()
        noise = torch.randn(*shape, generator=generator, device=gdev).to(device)
        x = p_sample(model, x, _full(shape[0], i, device), noise, schedule, clip_x0=clip_x0)
    return (x, kept) if record else x


def ddim_timesteps(num_timesteps: int, steps: int) -> list[int]:
    """The ``steps`` time steps DDIM visits, from T-1 down to 0, evenly spaced and rounded
    (diffusers' ``timestep_spacing="linspace"``); ``steps = T`` visits every time step."""
    if not isinstance(steps, int) or not 1 <= steps <= num_timesteps:
        raise ValueError(f"steps must be an int in [1, {num_timesteps}], got {steps!r}")
    ts = torch.linspace(num_timesteps - 1, 0, steps, dtype=torch.float64).round().long().tolist()
    return ts


@torch.no_grad()
def sample_ddim(
    model: torch.nn.Module,
    ddim_step: DdimStepFn,
    schedule: DiffusionSchedule,
    shape: Sequence[int],
    *,
    steps: int,
    generator: torch.Generator,
    eta: float = 0.0,
    device: torch.device | str | None = None,
    clip_x0: bool = True,
    record: Sequence[int] = (),
    show_progress: bool = True,
) -> torch.Tensor | tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """DDIM sampling (Song et al. 2021, eq. 12) over ``steps`` of the T time steps.

    Visits ``ddim_timesteps(T, steps)`` = t_1 > t_2 > ... > t_S = 0 and finally t_prev = -1 (x_0).
    Arguments as :func:`sample_ddpm`; ``ddim_step(model, x_t, t, t_prev, noise, schedule, eta, clip_x0=...)``.
    Noise is drawn at every step (and unused by the student's code when eta = 0).
    """
    device = get_device(device)
    schedule = schedule.to(device)
    model.eval()
    gdev = generator.device
    ts = ddim_timesteps(schedule.num_timesteps, steps)
    x = torch.randn(*shape, generator=generator, device=gdev).to(device)  # (B, C, H, W) = x_T
    kept = {}
    pairs = list(zip(ts, ts[1:] + [-1]))
    for t, t_prev in progress(pairs, desc=f"DDIM {steps} steps") if show_progress else pairs:
        if t in record:
            kept[t] = x.cpu()
        noise = torch.randn(*shape, generator=generator, device=gdev).to(device)
        x = ddim_step(
            model, x, _full(shape[0], t, device), _full(shape[0], t_prev, device), noise, schedule, eta, clip_x0=clip_x0
        )
    return (x, kept) if record else x


def load_resized(
    dataset: str, split: str, image_size: int | None = None, *, root: str | os.PathLike | None = None
) -> Dataset:
    """``course_lib.data.load(dataset, split)`` with the images resized to ``image_size`` (bilinear,
    antialiased, as the FID reference statistics of :func:`course_lib.metrics.fid.reference_statistics`)."""
    from .data import load
    from .metrics.fid import resize_images

    data = load(dataset, split, root=root)
    if image_size is None or data.images.shape[-1] == image_size:
        return data
    return dataclasses.replace(data, images=resize_images(data.images, image_size).clamp(-1, 1).contiguous())


ASSETS = Path(__file__).resolve().parent / "assets"


def pretrained_path(name: str) -> Path:
    """Path of a pretrained model shipped in ``course_lib/assets`` (e.g. ``"diffusion_fast.pt"``)."""
    path = ASSETS / name
    if not path.exists():
        raise FileNotFoundError(f"no pretrained model {path}; instructors make it with scripts/train_diffusion_fast.py")
    return path


# ------------------------------------------------------------------------- what the threshold cells grade
# The visible part of each threshold cell calls these with the student's functions and schedule, the hidden
# part (autograder.assignments.diffusion.reference) with the instructors' references: the same data, the same draws.


def sampling_model_path(cfg: DiffusionProfile, checkpoint: str | Path = "checkpoints/ddpm.pt") -> Path:
    """Where the model the sampling questions use lies: the shipped pretrained asset (fast), the pretrained
    diffusers folder ``<data root>/<cfg.pretrained_hub>`` (full), else the trained checkpoint."""
    if cfg.pretrained:
        return pretrained_path(cfg.pretrained)
    if cfg.pretrained_hub:
        from .nets.pretrained_ddpm import pretrained_folder

        return pretrained_folder(cfg.pretrained_hub)
    return Path(checkpoint)


def load_unet(path: str | Path, cfg: DiffusionProfile, *, device: torch.device | str | None = None) -> torch.nn.Module:
    """The profile's U-Net with the checkpoint at ``path`` loaded, in eval mode (CheckpointError if unfit)."""
    from .checkpoints import load_into
    from .nets.unet import UNet

    device = get_device(device)
    model = UNet(cfg.channels, base=cfg.base, mults=cfg.mults, attention=cfg.attention)
    load_into(model, path)
    return model.to(device).eval()


def load_sampling_model(
    cfg: DiffusionProfile, checkpoint: str | Path = "checkpoints/ddpm.pt", *, device: torch.device | str | None = None
) -> torch.nn.Module:
    """The eps-model ``model(x_t, t)`` the sampling questions use, in eval mode on ``device``: the shipped
    pretrained U-Net (``cfg.pretrained``, fast), the pretrained diffusers model (``cfg.pretrained_hub``, full;
    :func:`course_lib.nets.pretrained_ddpm.load_pretrained_ddpm`, whose error says what to fetch when it is
    absent), else the U-Net trained into ``checkpoint``."""
    if cfg.pretrained_hub:
        from .nets.pretrained_ddpm import load_pretrained_ddpm

        return load_pretrained_ddpm(cfg, device=device)
    return load_unet(sampling_model_path(cfg, checkpoint), cfg, device=device)


@torch.no_grad()
def graded_samples(
    kind: str,
    step_fn: Callable,
    model: torch.nn.Module,
    schedule: DiffusionSchedule,
    cfg: DiffusionProfile,
    *,
    seed: int | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``cfg.graded_sample_count(kind)`` samples (N, C, H, W) on the CPU with ``step_fn``: a ``p_sample`` (kind
    "ddpm", T steps) or a ``ddim_step`` (kind "ddim", ``cfg.ddim_eval_steps`` steps, eta 0), in chunks of
    ``cfg.sample_batch``, all noise from one generator seeded with ``cfg.sample_seed`` (or ``seed``)."""
    device = get_device(device)
    n = cfg.graded_sample_count(kind)  # ValueError for an unknown kind
    model = model.to(device).eval()
    gen = torch.Generator(device=device).manual_seed(cfg.sample_seed if seed is None else seed)
    out = []
    for start in range(0, n, cfg.sample_batch):
        shape = (min(cfg.sample_batch, n - start), cfg.channels, cfg.image_size, cfg.image_size)
        if kind == "ddpm":
            x = sample_ddpm(model, step_fn, schedule, shape, generator=gen, device=device, show_progress=False)
        else:
            x = sample_ddim(
                model,
                step_fn,
                schedule,
                shape,
                steps=cfg.ddim_eval_steps,
                eta=0.0,
                generator=gen,
                device=device,
                show_progress=False,
            )
        out.append(x.cpu())
    return torch.cat(out)


def graded_fid(
    kind: str,
    step_fn: Callable,
    model: torch.nn.Module,
    schedule: DiffusionSchedule,
    cfg: DiffusionProfile,
    *,
    device: torch.device | str | None = None,
) -> float:
    """FID of :func:`graded_samples` (nan -> 0, clamped to [-1, 1]) against ``cfg.eval_split`` at the
    profile's image size, with ``cfg.extractor``'s features."""
    from .metrics.fid import compute_statistics, frechet_distance, get_extractor, reference_statistics

    device = get_device(device)
    images = torch.nan_to_num(graded_samples(kind, step_fn, model, schedule, cfg, device=device).float(), nan=0.0)
    extractor = get_extractor(cfg.extractor, device=device)
    mu, sigma = compute_statistics(images.clamp(-1, 1), extractor, device=device)
    ref_mu, ref_sigma = reference_statistics(
        cfg.dataset, cfg.eval_split, extractor, image_size=cfg.image_size, device=device
    )
    return frechet_distance(mu, sigma, ref_mu, ref_sigma)


@torch.no_grad()
def heldout_loss(
    model: torch.nn.Module,
    loss_fn: Callable,
    schedule: DiffusionSchedule,
    cfg: DiffusionProfile,
    *,
    seed: int = 0,
    batch_size: int = 500,
    device: torch.device | str | None = None,
) -> float:
    """Mean of ``loss_fn(model, x_start, t, noise, schedule)`` (a ``ddpm_loss``: mean squared eps error) over
    ``cfg.loss_eval_size`` held-out images of ``cfg.eval_split`` (a fixed random subset; 0 = all) x
    ``cfg.loss_eval_repeats`` draws of (t, noise) per image from a CPU generator seeded with ``seed``
    (inf for a nan)."""
    device = get_device(device)
    model = model.to(device).eval()
    schedule = schedule.to(device)
    images = load_resized(cfg.dataset, cfg.eval_split, cfg.image_size).images
    if cfg.loss_eval_size:
        keep = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(0))[: cfg.loss_eval_size]
        images = images[keep.sort().values]  # the split is sorted by class: a fixed random subset
    gen = torch.Generator().manual_seed(seed)
    total, count = 0.0, 0
    for _ in range(cfg.loss_eval_repeats):
        for start in range(0, images.shape[0], batch_size):
            x = images[start : start + batch_size]
            t = torch.randint(0, cfg.timesteps, (x.shape[0],), generator=gen)  # (B,)
            noise = torch.randn(x.shape, generator=gen)
            x, t, noise = x.to(device), t.to(device), noise.to(device)
            total += float(loss_fn(model, x, t, noise, schedule)) * noise.numel()
            count += noise.numel()
    value = total / count
    return float("inf") if value != value else value
