"""Reference evaluators of 01_gan (instructors only; used by hidden tests).

Threshold tests call :func:`check_fid_threshold`, which loads the submitted checkpoint
(``checkpoints/<variant>.pt``), draws ``cfg.fid_samples`` samples from its generator with a fixed seed
of its own, and measures their FID against the held-out split with the profile's extractor
(``course_lib.metrics.fid``). They never trust a number the notebook printed.
"""
from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import torch

from course_lib.checkpoints import load_into
from course_lib.metrics.fid import frechet_distance, compute_statistics, get_extractor, reference_statistics
from course_lib.nets.gan import build_gan
from course_lib.profiles import get_profile
from course_lib.profiles.gan import VARIANTS

ASSIGNMENT = "01_gan"
SEED = 20_231  # not the seed the notebook samples with


@torch.no_grad()
def generate(generator: torch.nn.Module, n: int, *, seed: int = SEED, batch_size: int = 500,
             device: str | torch.device = "cpu") -> torch.Tensor:
    """(n, C, H, W) samples on the CPU from z ~ N(0, I) (CPU generator seeded with ``seed``), in float32."""
    generator = generator.to(device).eval()
    z = torch.randn(n, generator.latent_dim, generator=torch.Generator().manual_seed(seed))  # (n, D)
    return torch.cat([generator(z[i:i + batch_size].to(device)).float().cpu() for i in range(0, n, batch_size)])


def evaluate_generator(generator: torch.nn.Module, cfg, *, seed: int = SEED, device: str | torch.device = "cpu") -> float:
    """FID of ``cfg.fid_samples`` samples of ``generator`` against ``cfg.fid_split`` (inf for non-finite samples)."""
    extractor = get_extractor(cfg.extractor, device=device)
    ref = reference_statistics(cfg.dataset, cfg.fid_split, extractor,
                               max_images=cfg.fid_max_reference or None, device=device)
    images = generate(generator, cfg.fid_samples, seed=seed, device=device)
    if not torch.isfinite(images).all():
        return math.inf
    mu, sigma = compute_statistics(images.clamp(-1, 1), extractor, device=device)
    return frechet_distance(mu, sigma, *ref)


def evaluate_checkpoint(variant: str, path: str | os.PathLike | None = None, profile: str | None = None) -> float:
    """Load ``checkpoints/<variant>.pt`` (or ``path``) and return its FID (cached by path, mtime, profile)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    path = Path(path or f"checkpoints/{variant}.pt")
    if not path.exists():
        raise AssertionError(f"no checkpoint at {path}: run the training cell of {variant} (it saves the model there)")
    cfg = get_profile(ASSIGNMENT, profile)
    return _evaluate_cached(str(path.resolve()), path.stat().st_mtime_ns, cfg)


@functools.lru_cache(maxsize=8)
def _evaluate_cached(path: str, mtime: int, cfg) -> float:
    torch.manual_seed(0)
    model = build_gan(cfg)
    load_into(model, path)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return evaluate_generator(model.generator, cfg, device=device)


def check_fid_threshold(variant: str, path: str | os.PathLike | None = None) -> float:
    """Assert the FID of the variant's checkpoint is below the profile's threshold; returns the FID."""
    cfg = get_profile(ASSIGNMENT)
    fid = evaluate_checkpoint(variant, path)
    threshold = cfg.max_fid(variant)
    assert fid < threshold, (
        f"{variant}: FID {fid:.1f} of checkpoints/{variant}.pt is not below the threshold {threshold}: "
        "check the signs of the losses and which scores each term uses (real or fake), then retrain")
    return fid


# ----------------------------------------------------------------------------- reference losses (bench)

def gradient_penalty(critic, real, fake, alpha):
    """Gulrajani et al. (2017), eq. 3: E[(||grad_x_hat D(x_hat)||_2 - 1)^2], x_hat = alpha real + (1 - alpha) fake."""
    x = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def d_loss_wgan_gp(real_scores, fake_scores, gp, lam=10.0):
    return fake_scores.mean() - real_scores.mean() + lam * gp


def g_loss_wgan(fake_scores):
    return -fake_scores.mean()
