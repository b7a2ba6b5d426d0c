"""Training loop of 03_diffusion: minimise the student's ``ddpm_loss`` with Adam.

The loop draws the time steps ``t ~ U{0, .., T-1}`` and the noise ``eps ~ N(0, I)`` itself (from a
seeded generator on the device) and passes them to ``loss_fn(model, x_start, t, noise, schedule)``,
so the student's function never draws random numbers. Optionally it keeps an exponential moving
average (EMA) of the weights (Ho et al. 2020, Appendix B) and copies it into the model at the end.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from course_lib.data import Dataset
from course_lib.device import get_device, prepare_model
from course_lib.diffusion import DiffusionSchedule
from course_lib.progress import progress

if TYPE_CHECKING:
    from course_lib.assignments.diffusion.profile import DiffusionProfile

LossFn = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor, torch.Tensor, DiffusionSchedule], torch.Tensor]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Adam settings of :func:`train_diffusion`: made from a profile by :func:`config_for` (the profile holds
    the values).

    ``steps`` optimiser steps of ``batch_size`` images; the learning rate warms up linearly over
    ``warmup`` steps; ``ema_decay`` 0 turns the EMA off; the mean loss is logged every ``log_every`` steps.
    """

    steps: int
    batch_size: int
    lr: float
    warmup: int
    ema_decay: float
    log_every: int
    seed: int
    grad_clip: float = 1.0  # the loop's own constant (Ho et al. 2020's training setup; no profile changes it)

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.lr <= 0 or self.log_every < 1 or self.warmup < 0:
            raise ValueError(f"steps, batch_size, log_every must be >= 1, warmup >= 0 and lr > 0, got {self}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")


def config_for(cfg: DiffusionProfile, run: str | None = None) -> TrainConfig:
    """The one way a profile becomes a run: the loop's settings under a DiffusionProfile ``cfg`` (the loss is
    logged about 30 times)."""
    return TrainConfig(
        steps=cfg.steps,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        warmup=cfg.warmup,
        ema_decay=cfg.ema_decay,
        log_every=max(1, cfg.steps // 30),
        seed=cfg.seed,
    )


def train_diffusion(
    model: torch.nn.Module,
    loss_fn: LossFn,
    train: Dataset,
    schedule: DiffusionSchedule,
    *,
    config: TrainConfig,
    device: torch.device | str | None = None,
    callback: Callable[[int, dict], None] | None = None,
) -> dict[str, list[float]]:
    """Train the eps-prediction ``model`` with the student's ``loss_fn`` (Ho et al. 2020, Algorithm 1).

    Args:
        model: ``model(x_t, t) -> eps`` of the images' shape.
        loss_fn: the student's ``ddpm_loss(model, x_start, t, noise, schedule)`` -> scalar.
        train: images (N, C, H, W) in [-1, 1].
        schedule: the :class:`DiffusionSchedule` (moved to ``device``).
        config: steps, batch size, learning rate, EMA, seed.
        callback: called as ``callback(step, history)`` at each log point.

    Returns:
        ``{"step": [...], "loss": [...]}``: mean training loss over each ``log_every`` steps.
    """
    device = get_device(device)
    model.to(device).train()
    schedule = schedule.to(device)
    T = schedule.num_timesteps
    gen = torch.Generator(device=device).manual_seed(config.seed)
    loader = train.loader(
        config.batch_size, device=device, drop_last=True, generator=torch.Generator().manual_seed(config.seed)
    )
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    warm = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, config.warmup)))
    ema = copy.deepcopy(model).eval().requires_grad_(False) if config.ema_decay > 0 else None
    prepare_model(model, device)  # opt-in fast paths, after the EMA copy (which is never called)
    history: dict[str, list[float]] = {"step": [], "loss": []}
    total, step, batches = torch.zeros((), device=device), 0, iter(())
    for step in progress(range(1, config.steps + 1), desc="diffusion steps"):
        x = next(batches, None)
        if x is None:
            batches = iter(loader)
            x = next(batches)
        t = torch.randint(0, T, (x.shape[0],), device=device, generator=gen)  # (B,)
        noise = torch.randn(x.shape, device=device, generator=gen)  # (B, C, H, W)
        loss = loss_fn(model, x, t, noise, schedule)
        if loss.dim() != 0:
            raise ValueError(f"ddpm_loss must return a scalar (the mean over all elements), got {tuple(loss.shape)}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        opt.step()
        warm.step()
        if ema is not None:
            with torch.no_grad():
                for pe, pm in zip(ema.parameters(), model.parameters()):
                    pe.lerp_(pm, 1 - config.ema_decay)
        total += loss.detach()
        if step % config.log_every == 0:
            history["step"].append(step)
            history["loss"].append(total.item() / config.log_every)
            total.zero_()
            if callback is not None:
                callback(step, history)
    if ema is not None:
        model.load_state_dict(ema.state_dict())
    model.eval()
    return history
