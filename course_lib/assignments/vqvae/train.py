"""Training loop, measurement harness and prior of 06_vqvae. Everything takes the student's functions as arguments:

* ``quantize_fn(z_e, codebook) -> (z_st, z_q, indices)``: z_e (N, D), codebook (K, D); z_st the decoder's input
  (straight-through), z_q = codebook[indices] (what the codebook loss moves), indices (N,) int64;
* ``losses_fn(z_e, z_q, beta) -> (codebook_loss, commitment_loss)``, scalars (eq. 3's second and third terms);
* ``perplexity_fn(indices, K) -> scalar``: exp of the entropy of the codes' usage.

The visible threshold checks and the grader's hidden ones call the same :func:`heldout_recon` (the student's
quantiser and the reference one respectively) on the same held-out images.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from course_lib.checkpoints import load_into, load_or_train
from course_lib.data import TensorLoader, load
from course_lib.device import get_device, prepare_model, seed_everything
from course_lib.nets.vqvae import VQVAE, to_map, to_vectors
from course_lib.progress import progress

if TYPE_CHECKING:
    from course_lib.assignments.vqvae.profile import VQVAEProfile


def load_images(cfg: VQVAEProfile, split: str) -> torch.Tensor:
    """(N, C, H, W) images in [-1, 1]: the first ``cfg.train_size`` of "train" or ``cfg.eval_size`` of "val"
    (0: all)."""
    if split not in ("train", "val"):
        raise ValueError(f"unknown split {split!r}; expected 'train' or 'val'")
    images = load(cfg.dataset, split).images  # (N, C, H, W)
    limit = cfg.train_size if split == "train" else cfg.eval_size
    return images[:limit] if limit else images


def build_model(cfg: VQVAEProfile, k: int) -> VQVAE:
    """The VQ-VAE of profile ``cfg`` with ``k`` codes, initialised from ``cfg.seed``."""
    if k not in cfg.codebook_sizes:
        raise ValueError(f"codebook size {k} is not one of the profile's {cfg.codebook_sizes}")
    seed_everything(cfg.seed)
    return VQVAE(
        in_channels=cfg.in_channels, widths=tuple(cfg.widths), code_dim=cfg.code_dim, codebook_size=k,
        res_blocks=cfg.res_blocks,
    )  # fmt: skip


def reconstruct(model: VQVAE, x: torch.Tensor, quantize_fn: Callable) -> tuple[torch.Tensor, ...]:
    """decode(quantize(encode(x))): returns ``(x_hat, z_e, z_q, indices)`` with z_e, z_q (B h w, D)."""
    z = model.encode(x)  # (B, D, h, w)
    B, _, h, w = z.shape
    z_e = to_vectors(z)  # (B*h*w, D)
    z_st, z_q, indices = quantize_fn(z_e, model.codebook)
    return model.decode(to_map(z_st, B, h, w)), z_e, z_q, indices


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`train_vqvae`: made from a profile by :func:`config_for` (the profile holds the values)."""

    epochs: int
    batch_size: int
    lr: float
    beta: float
    seed: int

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0 or self.beta < 0:
            raise ValueError(f"epochs, batch_size >= 1, lr > 0 and beta >= 0 needed, got {self}")


def config_for(cfg: VQVAEProfile, run: str | None = None) -> TrainConfig:
    """The one way a profile becomes a run: the loop's settings under a VQVAEProfile ``cfg`` (every codebook size
    trains with the same ones)."""
    return TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, beta=cfg.beta, seed=cfg.seed)


def train_vqvae(
    model: VQVAE,
    quantize_fn: Callable,
    losses_fn: Callable,
    perplexity_fn: Callable,
    train_images: torch.Tensor,
    val_images: torch.Tensor,
    *,
    config: TrainConfig,
    device: str | torch.device | None = None,
    desc: str = "",
) -> dict[str, list[float]]:
    """Adam on MSE reconstruction + codebook + commitment loss (eq. 3); returns the per-epoch history.

    Returns:
        ``{"train_loss", "val_recon", "val_perplexity", "val_dead_codes"}``, one float per epoch (the perplexity
        by ``perplexity_fn`` and the unused codes on the held-out images).
    """
    device = get_device(device)
    prepare_model(model.to(device), device, compile_modules=("encoder", "decoder"))  # opt-in, off by default
    seed_everything(config.seed)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    loader = TensorLoader(
        train_images, batch_size=config.batch_size, shuffle=True, device=device,
        generator=torch.Generator().manual_seed(config.seed),
    )  # fmt: skip
    init_codebook(model, next(iter(loader)), seed=config.seed)
    history: dict[str, list[float]] = {"train_loss": [], "val_recon": [], "val_perplexity": [], "val_dead_codes": []}
    for _ in progress(range(config.epochs), desc=desc or "vqvae"):
        model.train()
        total, steps = torch.zeros((), device=device), 0
        for x in loader:
            x_hat, z_e, z_q, _ = reconstruct(model, x, quantize_fn)
            codebook_loss, commitment_loss = losses_fn(z_e, z_q, config.beta)
            # eq. 3: log p(x | z_q) (a Gaussian decoder: the squared error) + codebook + beta * commitment
            loss = F.mse_loss(x_hat, x) + codebook_loss + commitment_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
            steps += 1
        recon, indices = evaluate(model, val_images, quantize_fn, batch_size=config.batch_size, device=device)
        counts = torch.bincount(indices, minlength=model.codebook_size)  # (K,)
        history["train_loss"].append(float(total) / steps)  # one host sync per epoch
        history["val_recon"].append(recon)
        history["val_perplexity"].append(float(perplexity_fn(indices, model.codebook_size)))
        history["val_dead_codes"].append(float((counts == 0).sum()))
    return history


@torch.no_grad()
def init_codebook(model: VQVAE, x: torch.Tensor, *, seed: int) -> None:
    """Set the codebook to K distinct encoder outputs of the batch ``x`` (drawn with ``seed``).

    The initial codebook of the net is tiny (uniform in [-1/K, 1/K]) next to the untrained encoder's outputs, so a
    few codes win every assignment at the first step and the rest never move (dead from the start); starting from
    encoder outputs (as a k-means initialisation would) is the usual remedy. Needs K distinct vectors in the batch."""
    # distinct vectors only: equal image patches (the background) give equal outputs, and equal codes are dead ties
    z_e = torch.unique(to_vectors(model.encode(x)), dim=0)  # (M, D), sorted
    if z_e.shape[0] < model.codebook_size:
        raise ValueError(
            f"a batch gives {z_e.shape[0]} distinct vectors, fewer than the K = {model.codebook_size} codes"
        )
    pick = torch.randperm(z_e.shape[0], generator=torch.Generator().manual_seed(seed))[: model.codebook_size]
    model.codebook.copy_(z_e[pick.to(z_e.device)])


@torch.no_grad()
def evaluate(
    model: VQVAE,
    images: torch.Tensor,
    quantize_fn: Callable,
    *,
    batch_size: int,
    device: str | torch.device | None = None,
) -> tuple[float, torch.Tensor]:
    """Mean squared reconstruction error over every pixel of ``images``, and every position's code index (N h w,).
    Restores the model's train/eval mode."""
    device = get_device(device)
    was_training = model.training
    model.eval()
    total, all_indices = torch.zeros((), dtype=torch.float64, device=device), []
    for x in TensorLoader(images, batch_size=batch_size, shuffle=False, device=device):
        x_hat, _, _, indices = reconstruct(model, x, quantize_fn)
        total += ((x_hat - x) ** 2).sum(dtype=torch.float64)
        all_indices.append(indices.reshape(-1))
    model.train(was_training)
    value = float(total) / images.numel()
    return (value if np.isfinite(value) else float("nan")), torch.cat(all_indices)


def fit_or_load(
    path: str | os.PathLike,
    k: int,
    quantize_fn: Callable,
    losses_fn: Callable,
    perplexity_fn: Callable,
    *,
    cfg: VQVAEProfile,
    profile: str,
    train_images: torch.Tensor,
    val_images: torch.Tensor,
    device: str | torch.device | None = None,
) -> tuple[VQVAE, dict[str, list[float]]]:
    """What a training cell calls: load the checkpoint at ``path`` for ``profile``, else train ``k`` codes and save.

    Returns:
        ``(model, history)``, the model on ``device`` in eval mode.
    """
    device = get_device(device)
    model = build_model(cfg, k)

    def run() -> dict[str, Any]:
        args = (quantize_fn, losses_fn, perplexity_fn, train_images, val_images)
        history = train_vqvae(model, *args, config=config_for(cfg), device=device, desc=Path(path).stem)
        return {"history": history, "codebook_size": k}

    meta = load_or_train(path, model, run, profile=profile)
    return model.to(device).eval(), meta["history"]


def load_run(path: str | os.PathLike, cfg: VQVAEProfile, k: int, *, device: str | torch.device | None = None) -> VQVAE:
    """The model with ``k`` codes saved at ``path`` (CheckpointError if it does not fit), in eval mode."""
    model = build_model(cfg, k)
    load_into(model, path)
    return model.to(get_device(device)).eval()


def heldout_recon(
    path: str | os.PathLike,
    cfg: VQVAEProfile,
    k: int,
    quantize_fn: Callable,
    *,
    device: str | torch.device | None = None,
) -> float:
    """What a threshold cell grades: the held-out reconstruction MSE of the checkpoint at ``path`` (``k`` codes)
    with ``quantize_fn``, on the first ``cfg.eval_size`` validation images (nan when not finite)."""
    model = load_run(path, cfg, k, device=device)
    batch = max(1, min(cfg.batch_size, 256))
    return evaluate(model, load_images(cfg, "val"), quantize_fn, batch_size=batch, device=device)[0]


@torch.no_grad()
def code_maps(
    model: VQVAE, images: torch.Tensor, quantize_fn: Callable, *, device: str | torch.device | None = None
) -> torch.Tensor:
    """The quantised maps z_q of ``images``: (N, C, H, W) -> (N, D, h, w) on the CPU."""
    device = get_device(device)
    maps = []
    for x in TensorLoader(images, batch_size=256, shuffle=False, device=device):
        z = model.encode(x)  # (B, D, h, w)
        B, _, h, w = z.shape
        maps.append(to_map(quantize_fn(to_vectors(z), model.codebook)[1], B, h, w).cpu())
    return torch.cat(maps)


def fit_prior(
    model: VQVAE,
    images: torch.Tensor,
    quantize_fn: Callable,
    cfg: VQVAEProfile,
    *,
    device: str | torch.device | None = None,
) -> dict[str, Any]:
    """A prior over the code maps (the report's): a full-covariance Gaussian mixture on the principal components
    of the flattened quantised maps of ``images`` (scikit-learn, seeded with ``cfg.seed``).

    Returns:
        ``{"pca", "gmm", "shape"}``: the fitted PCA and GaussianMixture and the map shape (D, h, w).
    """
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    maps = code_maps(model, images, quantize_fn, device=device)  # (N, D, h, w)
    flat = maps.reshape(maps.shape[0], -1).double().numpy()  # (N, D*h*w)
    pca = PCA(n_components=cfg.pca_components, random_state=cfg.seed).fit(flat)
    gmm = GaussianMixture(cfg.gmm_components, covariance_type="full", reg_covar=1e-4, random_state=cfg.seed)
    gmm.fit(pca.transform(flat))
    return {"pca": pca, "gmm": gmm, "shape": tuple(maps.shape[1:])}


@torch.no_grad()
def sample_prior(
    model: VQVAE, prior: dict[str, Any], n: int, quantize_fn: Callable, *, device: str | torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images from the prior: GMM sample -> inverse PCA -> each position snapped to its nearest code by
    ``quantize_fn`` (a valid map of code indices) -> decoder.

    Returns:
        ``(images, indices)``: (n, C, H, W) clamped to [-1, 1] and the sampled code indices (n, h, w), on the CPU.
    """
    device = get_device(device)
    D, h, w = prior["shape"]
    prior["gmm"].random_state = 0  # the same samples on every call
    z, _ = prior["gmm"].sample(n)
    flat = torch.as_tensor(prior["pca"].inverse_transform(z), dtype=torch.float32, device=device)  # (n, D*h*w)
    z_q, indices = quantize_fn(to_vectors(flat.view(n, D, h, w)), model.codebook)[1:]  # (n*h*w, D), (n*h*w,)
    return model.decode(to_map(z_q, n, h, w)).clamp(-1, 1).cpu(), indices.view(n, h, w).cpu()
