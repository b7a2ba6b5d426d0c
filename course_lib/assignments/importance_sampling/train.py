"""Training loop of 05_importance_sampling: maximise the student's ELBO with Adam.

The loop takes the student's ``elbo(model, x, eps)`` as an argument; it draws ``eps`` itself (from a
seeded generator on the device), so the student's function never draws random numbers.
:func:`heldout_scores` is the evaluation the threshold cells grade (with the student's functions in the
visible part, the references in the hidden part).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from course_lib.data import Dataset
from course_lib.device import get_device
from course_lib.progress import progress

if TYPE_CHECKING:
    from course_lib.assignments.importance_sampling.profile import ImportanceSamplingProfile

ElboFn = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Adam settings of :func:`train_vae`: made from a profile by :func:`config_for` (the profile holds the values)."""

    epochs: int
    batch_size: int
    lr: float
    seed: int

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError(f"epochs and batch_size must be >= 1 and lr > 0, got {self}")


def config_for(cfg: ImportanceSamplingProfile, run: str | None = None) -> TrainConfig:
    """The one way a profile becomes a run: the loop's settings under an ImportanceSamplingProfile ``cfg``."""
    return TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed)


def train_vae(
    model: torch.nn.Module,
    elbo_fn: ElboFn,
    train: Dataset,
    *,
    config: TrainConfig,
    val: Dataset | None = None,
    device: torch.device | str | None = None,
    callback: Callable[[int, dict], None] | None = None,
) -> dict[str, list[float]]:
    """Train ``model`` to maximise the mean of ``elbo_fn`` over mini-batches.

    Args:
        model: has ``encode(x) -> (mu, logvar)`` and ``decode(z) -> logits`` and ``latent_dim``.
        elbo_fn: the student's ``elbo(model, x, eps)``: x (B, 1, 28, 28) in {0, 1}, eps (B, D) ->
            (B,) one-sample ELBO per digit.
        train, val: binarized data sets; ``val`` (optional) is scored once per epoch.
        config: epochs, batch size, learning rate, seed.
        device: where to train.
        callback: called as ``callback(epoch, history)`` after each epoch.

    Returns:
        ``{"train_elbo": [...], "val_elbo": [...]}``: mean ELBO per epoch (nats per digit).
    """
    device = get_device(device)
    model.to(device).train()
    gen = torch.Generator(device=device).manual_seed(config.seed)
    loader = train.loader(config.batch_size, device=device, generator=torch.Generator().manual_seed(config.seed))
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    history: dict[str, list[float]] = {"train_elbo": [], "val_elbo": []}
    for epoch in progress(range(config.epochs), desc="VAE epochs"):
        total = torch.zeros((), device=device)  # summed on the device: no host sync per step
        for x in loader:
            eps = torch.randn(x.shape[0], model.latent_dim, device=device, generator=gen)  # (B, D)
            value = elbo_fn(model, x, eps)  # (B,)
            if value.shape != (x.shape[0],):
                raise ValueError(f"elbo must return shape (B,) = ({x.shape[0]},), got {tuple(value.shape)}")
            loss = -value.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += value.detach().sum()
        history["train_elbo"].append(total.item() / len(train))
        if val is not None:
            history["val_elbo"].append(evaluate_elbo(model, elbo_fn, val, device=device, generator=gen))
            model.train()
        if callback is not None:
            callback(epoch, history)
    model.eval()
    return history


@torch.no_grad()
def evaluate_elbo(
    model: torch.nn.Module,
    elbo_fn: ElboFn,
    data: Dataset,
    *,
    batch_size: int = 500,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> float:
    """Mean one-sample ELBO of ``elbo_fn`` over ``data`` (nats per digit), on ``device`` (default: the
    ``generator``'s device when one is given, else :func:`~course_lib.device.get_device`)."""
    device = get_device(device if device is not None or generator is None else generator.device)
    model.eval()
    total = torch.zeros((), device=device)
    for x in data.loader(batch_size, shuffle=False, device=device):
        eps = torch.randn(x.shape[0], model.latent_dim, device=device, generator=generator)  # (B, D)
        total += elbo_fn(model, x, eps).sum()
    return total.item() / len(data)


@torch.no_grad()
def heldout_scores(
    model: torch.nn.Module,
    cfg: ImportanceSamplingProfile,
    *,
    elbo_fn: ElboFn,
    log_px_fn: Callable | None = None,
    seed: int = 0,
    batch_size: int = 100,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """What the threshold cells grade: the mean held-out ELBO and importance-sampled log p(x) of ``model``.

    The ELBO (``elbo_fn(model, x, eps)``, one eps per digit) is measured on the first ``cfg.eval_size``
    digits of ``cfg.elbo_split``, log p(x) (``log_px_fn(model, x, eps)`` with eps (B, K, D), K =
    ``cfg.eval_k``) on those of ``cfg.is_split``; every eps comes from one generator seeded with ``seed``.
    The visible part of the cells passes the student's ``elbo`` and ``importance_sampling_log_px``, the
    hidden part the instructors' references. Without ``log_px_fn`` only the ELBO is measured (with the
    same eps as otherwise).

    Returns:
        ``{"elbo", "log_px", "gap"}`` in nats per digit, gap = log p(x) minus the ELBO of the same digits
        (when the splits differ the ELBO is also measured on ``cfg.is_split``, as ``elbo_is_split``); a nan
        (a degenerate checkpoint) counts as -inf, the worst score.
    """
    from course_lib.data import load

    device = get_device(device)
    model = model.to(device).eval()
    gen = torch.Generator(device=device).manual_seed(seed)
    jobs = [("elbo", cfg.elbo_split)]
    if log_px_fn is not None:
        jobs.append(("log_px", cfg.is_split))
        if cfg.is_split != cfg.elbo_split:
            jobs.append(("elbo_is_split", cfg.is_split))
    totals = {}
    for key, split in jobs:
        images = load(cfg.dataset, split).images
        images = images[: cfg.eval_size] if cfg.eval_size else images
        total = 0.0
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size].to(device)  # (B, 1, 28, 28)
            if key == "log_px":
                eps = torch.randn(x.shape[0], cfg.eval_k, model.latent_dim, device=device, generator=gen)  # (B, K, D)
                total += log_px_fn(model, x, eps).sum().item()
            else:
                eps = torch.randn(x.shape[0], model.latent_dim, device=device, generator=gen)  # (B, D)
                total += elbo_fn(model, x, eps).sum().item()
        totals[key] = -math.inf if math.isnan(total) else total / len(images)
    if log_px_fn is None:
        return totals
    same_digits = totals.get("elbo_is_split", totals["elbo"])
    both_inf = math.isinf(totals["log_px"]) and math.isinf(same_digits)
    totals["gap"] = -math.inf if both_inf else totals["log_px"] - same_digits
    return totals


def load_vae(
    path: str | os.PathLike, cfg: ImportanceSamplingProfile, *, device: torch.device | str | None = None
) -> torch.nn.Module:
    """The profile's ``MLPVAE`` with the checkpoint at ``path`` loaded (CheckpointError if it does not fit)."""
    from course_lib.checkpoints import load_into
    from course_lib.nets.mlp_vae import MLPVAE

    device = get_device(device)
    model = MLPVAE(latent_dim=cfg.latent_dim, hidden=cfg.hidden)
    load_into(model, path)
    return model.to(device).eval()
