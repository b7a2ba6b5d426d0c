"""Reference implementations and checkpoint evaluators for 02_vae (instructors only).

Hidden tests compare the student's functions with these, and the threshold cells evaluate the
submitted checkpoints with :func:`evaluate_checkpoint` on the validation split (never a printed
number), through the same course_lib harness as the visible parts (``course_lib.assignments.vae.train.validate``).
Reductions, as the issue fixes them: squared error summed over C, H, W and KL summed over the D latent
dimensions, both averaged over the batch.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from course_lib.assignments.vae.train import config_for, load_images, load_run, validate


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
    return 0.5 * (mu**2 + torch.exp(2 * log_std) - 1.0 - 2 * log_std).sum(dim=1)


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


def evaluate(model, images: torch.Tensor, cfg) -> dict[str, float]:
    """Validation reconstruction loss and KL of ``model`` (KL 0 for an AE), means over the images.

    course_lib's :func:`~course_lib.assignments.vae.train.validate` (the harness the visible part of the threshold
    cells calls with the student's loss) with this module's reference :func:`ae_loss` / :func:`vae_loss`:
    a VAE's reconstruction uses one sample ``z = mu + exp(log_std) eps`` with ``eps`` from a generator
    seeded with ``cfg.eval_seed``, drawn per batch of ``cfg.batch_size`` (the profile's run settings,
    ``config_for(cfg)``), so the number does not depend on earlier draws.
    """
    variational = getattr(model, "variational", False)
    recon, kl = validate(
        model,
        vae_loss if variational else ae_loss,
        images,
        config=config_for(cfg),
    )
    return {"recon": recon, "kl": kl}


_VAL_CACHE: dict[tuple, torch.Tensor] = {}


def validation_images(cfg) -> torch.Tensor:
    key = (cfg.dataset, cfg.image_size)
    if key not in _VAL_CACHE:
        _VAL_CACHE[key] = load_images(cfg.dataset, "val", image_size=cfg.image_size)
    return _VAL_CACHE[key]


def evaluate_checkpoint(path: str | Path, cfg) -> dict[str, float]:
    """Load the checkpoint a training cell saved and :func:`evaluate` it on the validation split.

    The file's stem names the run, as the notebook saves them: ``ae_<latent>`` is an autoencoder with that
    latent size, any other (``vae_beta1``, ``vae_linear``...) a VAE with ``cfg.vae_latent``."""
    stem = Path(path).stem
    if stem.startswith("ae_"):
        if not stem[3:].isdigit():
            raise ValueError(f"{Path(path).name}: an autoencoder's checkpoint is named ae_<latent size>")
        kind, latent_dim = "ae", int(stem[3:])
    else:
        kind, latent_dim = "vae", cfg.vae_latent
    model = load_run(path, kind, latent_dim, cfg)
    return evaluate(model, validation_images(cfg), cfg)


def check_below(value: float, limit: float, what: str) -> None:
    """Assert ``value < limit`` with a message a student can act on."""
    assert math.isfinite(value), f"{what}: the validation reconstruction loss is {value} (training diverged?)"
    assert value < limit, (
        f"{what}: validation reconstruction loss {value:.1f} is not below {limit:.1f}. Check the reductions "
        "of your loss (sum over pixels / latent dimensions, mean over the batch) and retrain."
    )
