"""Reference implementations and checkpoint evaluators for 02_vae (instructors only).

Hidden tests compare the student's functions with these, and the threshold cells evaluate the
submitted checkpoints with :func:`evaluate_checkpoint` on the validation split (never a printed
number). Reductions, as the issue fixes them: squared error summed over C, H, W and KL summed over
the D latent dimensions, both averaged over the batch.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from course_lib.checkpoints import load_into
from course_lib.nets.conv_vae import build_model
from course_lib.train.vae import load_images


def recon_loss(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Squared error summed over C, H, W, averaged over the batch: (B, C, H, W) x 2 -> scalar."""
    return ((x_hat - x) ** 2).flatten(1).sum(1).mean()


def ae_loss(model, x):
    loss = recon_loss(model.decoder(model.encoder(x)), x)
    return loss, {"recon_loss": loss}


def reparameterize(mu, log_std, eps):
    # Kingma & Welling (2014), eq. 10 with sigma = exp(log_std)
    return mu + torch.exp(log_std) * eps


def kl_to_standard_normal(mu, log_std):
    """KL(N(mu, diag(exp(2 log_std))) || N(0, I)) summed over D: (B, D) x 2 -> (B,)."""
    # Kingma & Welling (2014), appendix B: -1/2 sum(1 + log sigma^2 - mu^2 - sigma^2)
    return 0.5 * (mu ** 2 + torch.exp(2 * log_std) - 1.0 - 2 * log_std).sum(dim=1)


def vae_loss(model, x, eps, beta=1.0):
    mu, log_std = model.encoder(x)
    x_hat = model.decoder(reparameterize(mu, log_std, eps))
    recon = recon_loss(x_hat, x)
    kl = kl_to_standard_normal(mu, log_std).mean()
    return recon + beta * kl, {"recon_loss": recon, "kl_loss": kl}


def constant_beta_schedule(value):
    return lambda epoch: value


def linear_beta_schedule(max_epochs, target):
    # 0 at epoch 0, target at epoch max_epochs - 1
    return lambda epoch: target * epoch / (max_epochs - 1)


@torch.no_grad()
def evaluate(model, images: torch.Tensor, *, seed: int = 1234, batch_size: int = 500) -> dict[str, float]:
    """Validation reconstruction loss and KL of ``model`` (KL 0 for an AE), means over the images.

    A VAE's reconstruction uses one sample ``z = mu + exp(log_std) eps`` with ``eps`` drawn from a
    generator seeded with ``seed``, so the number does not depend on earlier random draws.
    """
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    recon = kl = 0.0
    for start in range(0, images.shape[0], batch_size):
        x = images[start:start + batch_size].to(device)  # (B, C, H, W)
        if getattr(model, "variational", False):
            mu, log_std = model.encoder(x)
            eps = torch.randn(mu.shape, generator=gen).to(device)  # (B, D)
            x_hat = model.decoder(reparameterize(mu, log_std, eps))
            kl += float(kl_to_standard_normal(mu.double(), log_std.double()).sum())
        else:
            x_hat = model.decoder(model.encoder(x))
        recon += float(((x_hat - x).double() ** 2).flatten(1).sum())
    n = images.shape[0]
    return {"recon": recon / n, "kl": kl / n}


_VAL_CACHE: dict[tuple, torch.Tensor] = {}


def validation_images(cfg) -> torch.Tensor:
    key = (cfg.dataset, cfg.image_size)
    if key not in _VAL_CACHE:
        _VAL_CACHE[key] = load_images(cfg.dataset, "val", image_size=cfg.image_size)
    return _VAL_CACHE[key]


def evaluate_checkpoint(path: str | Path, kind: str, latent_dim: int, cfg) -> dict[str, float]:
    """Load the checkpoint a training cell saved and :func:`evaluate` it on the validation split."""
    model = build_model(kind, latent_dim=latent_dim, in_channels=cfg.in_channels, image_size=cfg.image_size,
                        widths=tuple(cfg.widths))
    load_into(model, path)
    return evaluate(model, validation_images(cfg), seed=cfg.eval_seed)


def check_below(value: float, limit: float, what: str) -> None:
    """Assert ``value < limit`` with a message a student can act on."""
    assert math.isfinite(value), f"{what}: the validation reconstruction loss is {value} (training diverged?)"
    assert value < limit, (
        f"{what}: validation reconstruction loss {value:.1f} is not below {limit:.1f}. Check the reductions "
        "of your loss (sum over pixels / latent dimensions, mean over the batch) and retrain."
    )
