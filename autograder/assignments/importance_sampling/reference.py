"""Reference evaluators of 05_importance_sampling (instructors only; used by hidden tests).

Everything here is written with ``torch.distributions`` so that it is independent of the solution
notebook's code. Threshold tests call :func:`evaluate_checkpoint`, which loads the submitted
checkpoint and measures the ELBO and the importance-sampled log p(x) on held-out digits; they never
trust a number the notebook printed.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from course_lib.assignments.importance_sampling.train import heldout_scores, load_vae
from course_lib.device import get_device
from course_lib.profiles import get_profile

ASSIGNMENT = "05_importance_sampling"


def log_bernoulli(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """log Bernoulli(target | sigmoid(logits)) summed over the last dimension."""
    logits, target = torch.broadcast_tensors(logits, target)
    return Bernoulli(logits=logits, validate_args=False).log_prob(target).sum(-1)


def log_normal(mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Diagonal Gaussian log density summed over the last dimension (broadcasting)."""
    # validate_args=False: a broken checkpoint (sigma underflowing to 0) scores -inf/nan, it does not crash
    return Normal(mu, torch.exp(0.5 * logvar), validate_args=False).log_prob(z).sum(-1)


def elbo(model, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """(B,) one-sample ELBO with the analytic KL (Kingma & Welling 2014, eq. 10)."""
    mu, logvar = model.encode(x)
    std = torch.exp(0.5 * logvar)
    z = mu + std * eps  # (B, D)
    rec = log_bernoulli(model.decode(z), x.reshape(x.shape[0], -1))
    kl = kl_divergence(
        Normal(mu, std, validate_args=False), Normal(torch.zeros_like(mu), torch.ones_like(std), validate_args=False)
    ).sum(-1)
    return rec - kl


def importance_sampling_log_px(model, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """(B,) log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x) with z_k = mu + sigma * eps[:, k] (Burda et al. 2016, eq. 8)."""
    mu, logvar = model.encode(x)
    z = mu.unsqueeze(1) + torch.exp(0.5 * logvar).unsqueeze(1) * eps  # (B, K, D)
    target = x.reshape(x.shape[0], 1, -1)  # (B, 1, P)
    log_w = (
        log_bernoulli(model.decode(z), target)
        + log_normal(torch.zeros_like(z), torch.zeros_like(z), z)
        - log_normal(mu.unsqueeze(1), logvar.unsqueeze(1), z)
    )  # (B, K)
    return torch.logsumexp(log_w, dim=1) - math.log(eps.shape[1])


@torch.no_grad()
def quadrature_log_px(model, x: torch.Tensor, *, limit: float = 8.0, n: int | None = None) -> torch.Tensor:
    """Exact log p(x) = log int p(x|z) p(z) dz on a grid over [-limit, limit]^D, for D in {1, 2}.

    Args:
        model: ``decode(z) -> logits`` with ``latent_dim`` 1 or 2.
        x: (B, P) binary.
        n: grid points per dimension (default 4001 for D = 1, 401 for D = 2).

    Returns:
        (B,) log p(x) (rectangle rule in log space; the prior's tails beyond ``limit`` are negligible).
    """
    d = model.latent_dim
    if d not in (1, 2):
        raise ValueError(f"quadrature needs a 1- or 2-dimensional latent, got {d}")
    n = n or (4001 if d == 1 else 401)
    axis = torch.linspace(-limit, limit, n, dtype=torch.float64)
    step = (axis[1] - axis[0]).item()
    grid = axis.view(-1, 1) if d == 1 else torch.cartesian_prod(axis, axis)  # (G, D)
    log_prior = Normal(0.0, 1.0).log_prob(grid).sum(-1)  # (G,)
    logits = model.decode(grid.float()).double()  # (G, P)
    out = []
    for row in x.reshape(x.shape[0], -1).double():  # (P,)
        log_lik = Bernoulli(logits=logits).log_prob(row.expand_as(logits)).sum(-1)  # (G,)
        out.append(torch.logsumexp(log_lik + log_prior, 0) + d * math.log(step))
    return torch.stack(out).float()


def evaluate_model(
    model, cfg, *, seed: int = 0, batch_size: int = 100, device: str | torch.device | None = None
) -> dict:
    """Mean held-out ELBO and importance-sampled log p(x) (K = cfg.eval_k) of ``model`` under profile ``cfg``:
    course_lib's :func:`~course_lib.assignments.importance_sampling.train.heldout_scores` (the harness the visible part
    calls with the student's functions) with this module's reference :func:`elbo` and
    :func:`importance_sampling_log_px`."""
    device = get_device(device)
    return heldout_scores(
        model, cfg, elbo_fn=elbo, log_px_fn=importance_sampling_log_px, seed=seed, batch_size=batch_size, device=device
    )


def evaluate_checkpoint(path: str | os.PathLike, cfg) -> dict:
    """Load the submitted checkpoint and evaluate it under profile ``cfg`` (cached by path, modification time
    and profile)."""
    path = Path(path)
    if not path.exists():
        raise AssertionError(f"no checkpoint at {path}: run the training cell (it saves the model there)")
    return dict(_evaluate_cached(str(path.resolve()), path.stat().st_mtime_ns, cfg))


@functools.lru_cache(maxsize=4)
def _evaluate_cached(path: str, mtime: int, cfg) -> dict:
    device = get_device()
    return evaluate_model(load_vae(path, cfg), cfg, device=device)


def check_elbo_threshold(path: str | os.PathLike = "checkpoints/vae.pt") -> dict:
    """Assert the held-out ELBO of the checkpoint reaches the profile's threshold."""
    cfg = get_profile(ASSIGNMENT)
    res = evaluate_checkpoint(path, cfg)
    assert res["elbo"] >= cfg.min_elbo, (
        f"held-out ELBO {res['elbo']:.2f} is below the threshold {cfg.min_elbo}: check the sign and the "
        "reduction of each term (sum over pixels and latent dimensions, mean over the batch)"
    )
    return res


def check_log_px_threshold(path: str | os.PathLike = "checkpoints/vae.pt") -> dict:
    """Assert the importance-sampled log p(x) of the checkpoint reaches the threshold and sits above the ELBO."""
    cfg = get_profile(ASSIGNMENT)
    res = evaluate_checkpoint(path, cfg)
    assert res["log_px"] >= cfg.min_log_px, (
        f"held-out log p(x) estimate {res['log_px']:.2f} is below the threshold {cfg.min_log_px}"
    )
    assert res["gap"] >= cfg.min_gap, (
        f"log p(x) estimate {res['log_px']:.2f} is not above the ELBO of the same digits (gap {res['gap']:.2f})"
    )
    return res
