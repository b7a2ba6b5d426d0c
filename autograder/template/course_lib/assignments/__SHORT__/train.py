"""Training loop and measurement harness of __NAME__: the visible checks and the grader's reference call the
same :func:`heldout_mse`, with the student's loss and with the reference loss respectively."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from course_lib.checkpoints import load_into
from course_lib.device import get_device

if TYPE_CHECKING:
    from course_lib.assignments.__SHORT__.profile import Profile

HELDOUT_SEED = 10_000  # the held-out points never depend on the run's seed


def make_points(cfg: Profile, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` of ``split`` ("train": ``cfg.points`` from ``cfg.seed``; "heldout": ``cfg.heldout`` from a fixed
    seed), each (N, 1): x uniform in [-1, 1], y = slope x + intercept + noise."""
    if split not in ("train", "heldout"):
        raise ValueError(f"unknown split {split!r}; expected 'train' or 'heldout'")
    n, seed = (cfg.points, cfg.seed) if split == "train" else (cfg.heldout, HELDOUT_SEED)
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=gen) * 2 - 1  # (N, 1)
    y = cfg.slope * x + cfg.intercept + cfg.noise * torch.randn(n, 1, generator=gen)  # (N, 1)
    return x, y


def build_model(cfg: Profile) -> torch.nn.Linear:
    """The line y = w x + b, initialised from ``cfg.seed``."""
    torch.manual_seed(cfg.seed)
    return torch.nn.Linear(1, 1)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`fit_line`: made from a profile by :func:`config_for` (the profile holds the values)."""

    steps: int
    lr: float

    def __post_init__(self) -> None:
        if self.steps < 1 or not self.lr > 0:
            raise ValueError(f"steps must be >= 1 and lr > 0, got {self}")


def config_for(cfg: Profile, run: str | None = None) -> TrainConfig:
    """The one way a profile becomes a run: the loop's settings under profile ``cfg``."""
    return TrainConfig(steps=cfg.steps, lr=cfg.lr)


def fit_line(
    model: torch.nn.Module,
    loss_fn: Callable,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    config: TrainConfig,
    device: str | torch.device | None = None,
) -> dict:
    """Full-batch gradient descent of ``loss_fn(model(x), y)`` on (N, 1) points; returns ``{"loss": [...]}``."""
    device = get_device(device)
    x, y = x.to(device), y.to(device)
    model.to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=config.lr)
    history = []
    for _ in range(config.steps):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        history.append(loss.detach())
    return {"loss": [float(v) for v in torch.stack(history).cpu()]}


@torch.no_grad()
def heldout_mse(
    model: torch.nn.Module, cfg: Profile, loss_fn: Callable, *, device: str | torch.device | None = None
) -> float:
    """``loss_fn`` of the model's predictions on the held-out points (nan when it is not finite)."""
    device = get_device(device)
    x, y = (t.to(device) for t in make_points(cfg, "heldout"))
    value = float(loss_fn(model.to(device).eval()(x), y))
    return value if value == value and abs(value) != float("inf") else float("nan")


def load_line(path: str | os.PathLike, cfg: Profile, *, device: str | torch.device | None = None) -> torch.nn.Linear:
    """The line saved at ``path`` by the training cell (CheckpointError if unfit)."""
    model = build_model(cfg)
    load_into(model, path)
    return model.to(get_device(device)).eval()
