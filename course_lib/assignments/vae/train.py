"""Training loop of the AE / VAE assignment: it takes the student's loss function and beta schedule.

Two kinds of loss function, as the notebook defines them:

* AE: ``loss_fn(model, x) -> (loss, {"recon_loss": ...})``;
* VAE: ``loss_fn(model, x, eps, beta) -> (total, {"recon_loss": ..., "kl_loss": ...})``, where the loop
  draws ``eps ~ N(0, I)`` of shape (B, D) and ``beta = beta_schedule(epoch)``.

Per epoch the loop records the mean training loss and the validation reconstruction and KL terms
(the student's loss function on the validation split, with ``eps`` from a fixed generator), reading
numbers back from the device once per epoch only.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from course_lib.checkpoints import load_or_train
from course_lib.data import load
from course_lib.device import get_device, prepare_model, seed_everything
from course_lib.nets.conv_vae import build_model
from course_lib.progress import progress

if TYPE_CHECKING:
    from course_lib.assignments.vae.profile import VAEProfile

BetaSchedule = Callable[[int], float]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of one run: made from a profile by :func:`config_for` (the profile holds the values)."""

    epochs: int
    batch_size: int
    lr: float
    grad_clip: float
    seed: int
    val_seed: int  # eps of the per-epoch validation

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value > 0):
                raise ValueError(f"TrainConfig.{name} must be a positive int, got {value!r}")
        if not self.lr > 0 or not self.grad_clip > 0:
            raise ValueError(f"lr and grad_clip must be positive, got lr={self.lr}, grad_clip={self.grad_clip}")


def config_for(cfg: VAEProfile, run: str | None = None) -> TrainConfig:
    """The one way a profile becomes a run: the loop's settings under a
    :class:`course_lib.assignments.vae.profile.VAEProfile` (every run of 02 trains with the same ones)."""
    return TrainConfig(
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        grad_clip=cfg.grad_clip,
        seed=cfg.seed,
        val_seed=cfg.eval_seed,
    )


def load_images(dataset: str, split: str, *, image_size: int = 32, limit: int | None = None) -> torch.Tensor:
    """Images of ``dataset`` in [-1, 1], padded with the background value -1 to ``image_size``.

    Returns:
        (N, C, image_size, image_size) float32 (the first ``limit`` images when given).
    """
    images = load(dataset, split).images  # (N, C, H, W)
    if limit:
        images = images[:limit]
    h, w = images.shape[-2:]
    if h > image_size or w > image_size:
        raise ValueError(f"{dataset} images are {h}x{w}, larger than image_size={image_size}")
    top, left = (image_size - h) // 2, (image_size - w) // 2
    # pad (left, right, top, bottom) with -1, the black background of the model range
    return F.pad(images, (left, image_size - w - left, top, image_size - h - top), value=-1.0)  # (N, C, S, S)


def first_of_each_class(labels: torch.Tensor, n: int | None = None) -> torch.Tensor:
    """Index of the first image of each class, classes in increasing order (a fixed, seed-free pick).

    A split sorted by class (mnist5k's validation digits are) starts with one class only; this picks one
    example per class instead, for reconstruction and interpolation figures.

    Args:
        labels: (N,) integer class labels.
        n: keep the first ``n`` classes (all when None).

    Returns:
        (K,) int64 indices into ``labels``, K = min(n, number of classes).
    """
    if labels.dim() != 1:
        raise ValueError(f"labels must be (N,), got {tuple(labels.shape)}")
    classes = torch.unique(labels)  # sorted
    if n is not None:
        classes = classes[:n]
    # argmax of a boolean row: the first position where it is True
    return torch.stack([torch.argmax((labels == c).to(torch.int8)) for c in classes]).long()  # (K,)


def train(
    model: torch.nn.Module,
    loss_fn: Callable,
    train_images: torch.Tensor,
    val_images: torch.Tensor,
    *,
    config: TrainConfig,
    beta_schedule: BetaSchedule | None = None,
    device: torch.device | str | None = None,
    desc: str = "",
) -> dict[str, list[float]]:
    """Train ``model`` in place with Adam and gradient clipping; return the per-epoch history.

    Args:
        model: an AutoEncoder (``beta_schedule`` None) or a VAE (``beta_schedule`` given).
        loss_fn: the student's ``ae_loss`` or ``vae_loss`` (see the module docstring).
        train_images, val_images: (N, C, H, W) in [-1, 1].
        config: epochs, batch size, learning rate, clipping norm, seeds.
        beta_schedule: epoch -> beta, for a VAE.

    Returns:
        ``{"train_loss", "val_recon", "val_kl", "beta"}``: one float per epoch (``val_kl``/``beta``
        are 0 for an AE).
    """
    variational = bool(getattr(model, "variational", False))
    if variational and beta_schedule is None:
        raise ValueError("a VAE needs beta_schedule=, e.g. constant_beta_schedule(1.0)")
    if not variational and beta_schedule is not None:
        raise ValueError("an autoencoder has no KL term: leave beta_schedule=None")
    device = get_device() if device is None else torch.device(device)
    prepare_model(model.to(device), device, compile_modules=("encoder", "decoder"))  # opt-in, off by default
    seed_everything(config.seed)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    loader = _loader(train_images, config.batch_size, device, shuffle=True, seed=config.seed)
    history: dict[str, list[float]] = {"train_loss": [], "val_recon": [], "val_kl": [], "beta": []}
    for epoch in progress(range(config.epochs), desc=desc or type(model).__name__):
        beta = float(beta_schedule(epoch)) if variational else 0.0
        model.train()
        total, steps = torch.zeros((), device=device), 0
        for x in loader:
            if variational:
                eps = torch.randn(x.shape[0], model.latent_dim, device=device)  # (B, D)
                loss, _ = loss_fn(model, x, eps, beta)
            else:
                loss, _ = loss_fn(model, x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            opt.step()
            total += loss.detach()
            steps += 1
        recon, kl = validate(model, loss_fn, val_images, config=config, beta=beta, device=device)
        history["train_loss"].append(float(total) / steps)  # one host sync per epoch
        history["val_recon"].append(recon)
        history["val_kl"].append(kl)
        history["beta"].append(beta)
    return history


@torch.no_grad()
def validate(
    model: torch.nn.Module,
    loss_fn: Callable,
    images: torch.Tensor,
    *,
    config: TrainConfig,
    beta: float = 1.0,
    device: torch.device | str | None = None,
) -> tuple[float, float]:
    """Mean validation ``(recon_loss, kl_loss)`` of ``loss_fn`` (KL 0 for an AE), batch-size weighted.

    This is also what the threshold cells grade (with ``config_for(cfg)``: batches of
    ``cfg.batch_size``, eps from a CPU generator seeded with ``cfg.eval_seed``): the visible part calls it
    with the student's loss on the submitted checkpoint, the hidden part with the reference loss. Restores
    the model's train/eval mode."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    variational = bool(getattr(model, "variational", False))
    gen = torch.Generator().manual_seed(config.val_seed)
    was_training = model.training
    model.eval()
    recon = torch.zeros((), device=device)
    kl = torch.zeros((), device=device)
    for x in _loader(images, config.batch_size, device, shuffle=False, seed=0):
        if variational:
            eps = torch.randn(x.shape[0], model.latent_dim, generator=gen).to(device)  # (B, D)
            _, parts = loss_fn(model, x, eps, beta)
            kl += parts["kl_loss"].detach() * x.shape[0]
        else:
            _, parts = loss_fn(model, x)
        recon += parts["recon_loss"].detach() * x.shape[0]
    model.train(was_training)
    n = images.shape[0]
    return float(recon) / n, float(kl) / n


def fit_or_load(
    path: str | os.PathLike,
    kind: str,
    latent_dim: int,
    loss_fn: Callable,
    *,
    cfg: VAEProfile,
    profile: str,
    train_images: torch.Tensor,
    val_images: torch.Tensor,
    beta_schedule: BetaSchedule | None = None,
    epochs: int | None = None,
    device: torch.device | str | None = None,
) -> tuple[torch.nn.Module, dict[str, list[float]]]:
    """What a training cell calls: build the model of ``kind`` (``"ae"``/``"vae"``), then load the
    checkpoint at ``path`` if it exists for ``profile``, else train it and save it.

    Returns:
        ``(model, history)``, the model on ``device`` in eval mode.
    """
    device = get_device() if device is None else torch.device(device)
    config = config_for(cfg)
    if epochs is not None:
        config = dataclasses.replace(config, epochs=epochs)
    seed_everything(config.seed)
    model = build_model(
        kind,
        latent_dim=latent_dim,
        in_channels=train_images.shape[1],
        image_size=train_images.shape[-1],
        widths=tuple(cfg.widths),
    )

    def run() -> dict[str, Any]:
        history = train(
            model,
            loss_fn,
            train_images,
            val_images,
            config=config,
            beta_schedule=beta_schedule,
            device=device,
            desc=Path(path).stem,
        )
        return {"history": history, "kind": kind, "latent_dim": latent_dim, "epochs": config.epochs}

    meta = load_or_train(path, model, run, profile=profile)
    return model.to(device).eval(), meta["history"]


def load_run(
    path: str | os.PathLike, kind: str, latent_dim: int, cfg: VAEProfile, *, device: torch.device | str | None = None
) -> torch.nn.Module:
    """The model of ``kind`` (``"ae"``/``"vae"``) of the profile ``cfg`` with the checkpoint at ``path``
    loaded, in eval mode (CheckpointError if it does not fit)."""
    from course_lib.checkpoints import load_into

    device = get_device(device)
    model = build_model(
        kind, latent_dim=latent_dim, in_channels=cfg.in_channels, image_size=cfg.image_size, widths=tuple(cfg.widths)
    )
    load_into(model, path)
    return model.to(device).eval()


def checkpoint_losses(
    path: str | os.PathLike,
    kind: str,
    loss_fn: Callable,
    cfg: VAEProfile,
    *,
    images: torch.Tensor,
    device: torch.device | str | None = None,
) -> tuple[float, float]:
    """What a threshold cell grades: :func:`validate` (``config_for(cfg)``) of the checkpoint at
    ``path`` (a ``kind`` model with latent size ``cfg.vae_latent``) with ``loss_fn`` on ``images``."""
    device = get_device(device)
    model = load_run(path, kind, cfg.vae_latent, cfg, device=device)
    return validate(model, loss_fn, images, config=config_for(cfg), device=device)


def _loader(images: torch.Tensor, batch_size: int, device: torch.device, *, shuffle: bool, seed: int):
    from course_lib.data import TensorLoader

    return TensorLoader(
        images, batch_size=batch_size, shuffle=shuffle, device=device, generator=torch.Generator().manual_seed(seed)
    )
