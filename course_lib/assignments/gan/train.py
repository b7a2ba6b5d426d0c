"""Training loop of 01_gan: alternate critic and generator steps with the student's losses.

The loop draws all randomness itself (z, and alpha for the gradient penalty, from seeded generators on
the device), so the student's loss functions never draw random numbers. Forward passes run under
:func:`course_lib.device.autocast` (bf16 on CUDA); losses and the gradient penalty are computed in
float32 outside it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from course_lib.data import Dataset
from course_lib.device import autocast, get_device, prepare_model
from course_lib.progress import progress

if TYPE_CHECKING:
    from course_lib.assignments.gan.profile import GanProfile
    from course_lib.nets.gan import GAN


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`train_gan`: made from a profile by :func:`config_for` (the profile holds the values)."""

    iterations: int
    n_critic: int
    batch_size: int
    lr: float
    betas: tuple[float, float]
    gp_lambda: float
    log_every: int
    fid_every: int
    seed: int

    def __post_init__(self) -> None:
        if self.iterations < 1 or self.n_critic < 1 or self.batch_size < 2 or self.lr <= 0:
            raise ValueError(f"iterations, n_critic >= 1, batch_size >= 2 and lr > 0 needed, got {self}")


def train_gan(
    generator: torch.nn.Module,
    critic: torch.nn.Module,
    *,
    d_loss: Callable,
    g_loss: Callable,
    data: Dataset,
    config: TrainConfig,
    gradient_penalty: Callable | None = None,
    fid_fn: Callable[[torch.nn.Module], float] | None = None,
    device: torch.device | str | None = None,
) -> dict[str, list[float]]:
    """Train ``generator`` against ``critic``.

    Args:
        d_loss: ``d_loss(real_scores, fake_scores) -> scalar``, or with ``gradient_penalty`` given,
            ``d_loss(real_scores, fake_scores, gp, lam) -> scalar``; scores are (B, 1) float32.
        g_loss: ``g_loss(fake_scores) -> scalar``.
        gradient_penalty: ``gradient_penalty(critic, real, fake, alpha) -> scalar`` (WGAN-GP), alpha (B, 1, 1, 1).
        fid_fn: ``fid_fn(generator) -> float``, called every ``config.fid_every`` generator steps and at the end.

    Returns:
        ``{"iteration", "d_loss", "g_loss"}`` (means over each ``log_every`` generator steps) and
        ``{"fid_iteration", "fid"}``.
    """
    device = get_device(device)
    generator.to(device).train()
    critic.to(device).train()
    for net in (generator, critic):  # channels_last only: torch.compile has no double backward (the penalty)
        prepare_model(net, device, compile=False)
    gen = torch.Generator(device=device).manual_seed(config.seed)
    loader = data.loader(config.batch_size, device=device, generator=torch.Generator().manual_seed(config.seed))
    batches = iter(loader)
    opt_d = torch.optim.Adam(critic.parameters(), lr=config.lr, betas=config.betas)
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr, betas=config.betas)
    hist: dict[str, list[float]] = {"iteration": [], "d_loss": [], "g_loss": [], "fid_iteration": [], "fid": []}
    sums = torch.zeros(2, device=device)  # running d_loss, g_loss sums: no host sync per step

    def next_real() -> torch.Tensor:
        nonlocal batches
        x = next(batches, None)
        if x is None or x.shape[0] < config.batch_size:  # drop the last partial batch, start an epoch
            batches = iter(loader)
            x = next(batches)
        return x

    def scores(x: torch.Tensor) -> torch.Tensor:
        with autocast(device):
            return critic(x).float()  # (B, 1)

    for it in progress(range(1, config.iterations + 1), desc="GAN iterations"):
        for _ in range(config.n_critic):
            real = next_real()  # (B, C, H, W)
            z = torch.randn(real.shape[0], generator.latent_dim, device=device, generator=gen)  # (B, D)
            with torch.no_grad(), autocast(device):
                fake = generator(z).float()
            if gradient_penalty is None:
                loss_d = d_loss(scores(real), scores(fake))
            else:
                alpha = torch.rand(real.shape[0], 1, 1, 1, device=device, generator=gen)  # (B, 1, 1, 1)
                gp = gradient_penalty(critic, real, fake, alpha)
                loss_d = d_loss(scores(real), scores(fake), gp, config.gp_lambda)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        z = torch.randn(config.batch_size, generator.latent_dim, device=device, generator=gen)  # (B, D)
        with autocast(device):
            fake = generator(z)
        loss_g = g_loss(scores(fake.float()))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        sums += torch.stack([loss_d.detach(), loss_g.detach()]).float()
        if it % config.log_every == 0:
            d, g = (sums / config.log_every).tolist()
            hist["iteration"].append(it)
            hist["d_loss"].append(d)
            hist["g_loss"].append(g)
            sums.zero_()
        if fid_fn is not None and ((config.fid_every and it % config.fid_every == 0) or it == config.iterations):
            generator.eval()
            hist["fid_iteration"].append(it)
            hist["fid"].append(float(fid_fn(generator)))
            generator.train()
    generator.eval()
    critic.eval()
    return hist


@torch.no_grad()
def sample(
    generator: torch.nn.Module,
    n: int,
    *,
    seed: int = 0,
    batch_size: int = 1000,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``n`` samples (n, C, H, W) in [-1, 1] on the CPU, from z ~ N(0, I) drawn with ``seed`` on the CPU."""
    device = torch.device(device) if device is not None else next(generator.parameters()).device
    generator.eval()
    z = torch.randn(n, generator.latent_dim, generator=torch.Generator().manual_seed(seed))  # (n, D)
    out = []
    for start in range(0, n, batch_size):
        with autocast(device):
            out.append(generator(z[start : start + batch_size].to(device)).float().clamp(-1, 1).cpu())
    return torch.cat(out)


GRADED_SEED = 20_231  # the z of the graded FID (not a seed the notebook samples with)


@torch.no_grad()
def graded_fid(
    generator: torch.nn.Module,
    cfg: GanProfile,
    *,
    seed: int = GRADED_SEED,
    batch_size: int = 500,
    device: torch.device | str | None = None,
) -> float:
    """The FID a threshold cell grades: ``cfg.fid_samples`` samples of ``generator`` (z ~ N(0, I) from a CPU
    generator seeded with ``seed``, float32, no autocast) against ``cfg.fid_split`` with ``cfg.extractor``.

    Both parts of the cell call this: the visible part on the student's checkpoint, the hidden part through
    ``autograder.assignments.gan.reference``. Returns inf when a sample is not finite.
    """
    device = get_device(device)
    import math

    from course_lib.metrics.fid import compute_statistics, frechet_distance, get_extractor, reference_statistics

    extractor = get_extractor(cfg.extractor, device=device)
    ref = reference_statistics(
        cfg.dataset, cfg.fid_split, extractor, max_images=cfg.fid_max_reference or None, device=device
    )
    generator = generator.to(device).eval()
    z = torch.randn(cfg.fid_samples, generator.latent_dim, generator=torch.Generator().manual_seed(seed))  # (N, D)
    images = torch.cat(
        [generator(z[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(z), batch_size)]
    )  # (N, C, H, W)
    if not torch.isfinite(images).all():
        return math.inf
    mu, sigma = compute_statistics(images.clamp(-1, 1), extractor, device=device)
    return frechet_distance(mu, sigma, *ref)


def load_gan(path: str | os.PathLike, cfg: GanProfile, *, device: torch.device | str | None = None) -> GAN:
    """A fresh ``build_gan(cfg)`` with the checkpoint at ``path`` loaded (CheckpointError if it does not fit)."""
    from course_lib.checkpoints import load_into
    from course_lib.nets.gan import build_gan

    device = get_device(device)
    gan = build_gan(cfg)
    load_into(gan, path)
    return gan.to(device).eval()


def config_for(cfg: GanProfile, run: str) -> TrainConfig:
    """The one way a profile becomes a run: the TrainConfig of variant ``run`` under a GanProfile ``cfg`` (its
    critic steps, Adam, lambda, FID cadence)."""
    variant = run
    iterations = cfg.generator_steps(variant)
    return TrainConfig(
        iterations=iterations,
        n_critic=cfg.critic_steps(variant),
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        betas=cfg.adam_betas(variant),
        gp_lambda=cfg.gp_lambda,
        fid_every=cfg.fid_every,
        log_every=max(1, min(25, iterations // 20)),
        seed=cfg.seed,
    )
