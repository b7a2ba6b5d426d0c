"""Reference evaluators of 06_vqvae (instructors only; the hidden parts of the graded cells call them).

The references are written differently from the notebook's solutions on purpose (the hidden tests compare the two):
nearest codes by ``torch.cdist`` with a stable sort (lowest index on a tie), perplexity from ``torch.bincount`` with
scipy's entropy. :func:`evaluate_checkpoint` measures a submitted ``checkpoints/vqvae_<K>.pt`` with course_lib's
harness and this module's quantiser: never a number the notebook printed.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from course_lib.assignments.vqvae.train import heldout_recon
from course_lib.profiles import get_profile

ASSIGNMENT = "06_vqvae"


def assign_codes(z_e: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """(N, D), (K, D) -> (N,) int64: the nearest code in Euclidean distance, the lowest index on a tie."""
    d = torch.cdist(z_e.detach().double(), codebook.detach().double())  # (N, K)
    return torch.sort(d, dim=1, stable=True).indices[:, 0]


def quantize(z_e: torch.Tensor, codebook: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(z_st, z_q, indices)``: z_q = codebook[indices]; z_st has z_q's value and the identity gradient to z_e."""
    indices = assign_codes(z_e, codebook)
    z_q = codebook[indices]  # (N, D)
    return z_q.detach() - z_e.detach() + z_e, z_q, indices


def vq_losses(z_e: torch.Tensor, z_q: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 3's ``(||sg[z_e] - e||^2, beta ||z_e - sg[e]||^2)``, each the mean over every element."""
    return ((z_e.detach() - z_q) ** 2).mean(), beta * ((z_e - z_q.detach()) ** 2).mean()


def codebook_perplexity(indices: torch.Tensor, k: int) -> torch.Tensor:
    """exp(H(p)) of the usage p of the ``k`` codes (scipy's entropy, natural log)."""
    from scipy.stats import entropy

    counts = torch.bincount(indices.reshape(-1).cpu(), minlength=k).double().numpy()
    return torch.tensor(math.exp(entropy(counts)))


def evaluate_checkpoint(path: str | os.PathLike, cfg) -> dict[str, float]:
    """``{"recon": ...}``: the held-out reconstruction MSE of the run saved at ``path``, a
    ``checkpoints/vqvae_<K>.pt`` (the file's stem names the codebook size)."""
    path = Path(path)
    if not path.exists():
        raise AssertionError(f"no checkpoint at {path}: run the training cell (it saves the model there)")
    size = path.stem.removeprefix("vqvae_")
    if not path.stem.startswith("vqvae_") or not size.isdigit() or int(size) not in cfg.codebook_sizes:
        raise ValueError(f"{path.name}: a 06_vqvae checkpoint is named vqvae_<K>, K one of {cfg.codebook_sizes}")
    return {"recon": heldout_recon(path, cfg, int(size), quantize)}


def check_recon_threshold(path: str | os.PathLike) -> float:
    """Assert the held-out reconstruction MSE of the run at ``path`` (``checkpoints/vqvae_<K>.pt``) is below the
    profile's threshold for its K; returns it."""
    cfg = get_profile(ASSIGNMENT)
    value = evaluate_checkpoint(path, cfg)["recon"]
    k = int(Path(path).stem.removeprefix("vqvae_"))
    limit = cfg.max_recon(k)
    assert value == value and value < limit, (
        f"held-out reconstruction MSE {value:.4f} with K = {k} is not below {limit}: check that the straight-through "
        "estimator passes the decoder's gradient to the encoder and that each loss term has its stop-gradient, then "
        "retrain"
    )
    return value
