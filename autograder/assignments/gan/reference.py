"""Reference evaluators of 01_gan (instructors only; used by hidden tests).

Threshold tests call :func:`check_fid_threshold`, which loads the submitted checkpoint
(``checkpoints/<variant>.pt``), draws ``cfg.fid_samples`` samples from its generator with a fixed seed
of its own, and measures their FID against the held-out split with the profile's extractor
(``course_lib.metrics.fid``). They never trust a number the notebook printed.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import torch

from course_lib.assignments.gan.profile import VARIANTS
from course_lib.assignments.gan.train import GRADED_SEED as SEED
from course_lib.assignments.gan.train import graded_fid, load_gan
from course_lib.device import get_device
from course_lib.profiles import get_profile

ASSIGNMENT = "01_gan"


def evaluate_generator(
    generator: torch.nn.Module, cfg, *, seed: int = SEED, device: str | torch.device | None = None
) -> float:
    """FID of ``cfg.fid_samples`` samples of ``generator`` against ``cfg.fid_split`` (inf for non-finite samples):
    course_lib's :func:`~course_lib.assignments.gan.train.graded_fid`, the harness the visible part calls too."""
    device = get_device(device)
    return graded_fid(generator, cfg, seed=seed, device=device)


def evaluate_checkpoint(path: str | os.PathLike, cfg) -> dict[str, float]:
    """``{"fid": ...}`` of the generator saved at ``path``, a ``checkpoints/<variant>.pt`` (the file's stem
    names the variant), under profile ``cfg``; cached by path, modification time and profile."""
    path = Path(path)
    if not path.exists():
        raise AssertionError(
            f"no checkpoint at {path}: run the training cell of {path.stem} (it saves the model there)"
        )
    if path.stem not in VARIANTS:
        raise ValueError(f"{path.name}: a 01_gan checkpoint is named after its variant, one of {', '.join(VARIANTS)}")
    cfg = cfg.for_variant(path.stem)  # WGAN-LP: its own data set's held-out split
    return {"fid": _evaluate_cached(str(path.resolve()), path.stat().st_mtime_ns, cfg)}


@functools.lru_cache(maxsize=8)
def _evaluate_cached(path: str, mtime: int, cfg) -> float:
    torch.manual_seed(0)
    device = get_device()
    return evaluate_generator(load_gan(path, cfg).generator, cfg, device=device)


def check_fid_threshold(variant: str) -> float:
    """Assert the FID of ``checkpoints/<variant>.pt`` is below the profile's threshold; returns the FID."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    cfg = get_profile(ASSIGNMENT)
    fid = evaluate_checkpoint(f"checkpoints/{variant}.pt", cfg)["fid"]
    threshold = cfg.max_fid(variant)
    assert fid < threshold, (
        f"{variant}: FID {fid:.1f} of checkpoints/{variant}.pt is not below the threshold {threshold}: "
        "check the signs of the losses and which scores each term uses (real or fake), then retrain"
    )
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
