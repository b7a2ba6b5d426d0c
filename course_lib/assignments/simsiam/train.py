"""The SimSiam training loop: two augmented views, the student's forward and loss, SGD + cosine.

The loop takes the student's functions as arguments (``simsiam_forward``, ``simsiam_loss``,
``output_std``, and a ``monitor`` callback that usually wraps ``knn_predict``), so the same loop
trains the healthy run and both ablations (``stop_gradient=False``; an identity predictor is a
property of the model). It keeps running sums on the device and syncs once per epoch.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import nn

from course_lib.data import Dataset
from course_lib.device import autocast, get_device, prepare_model
from course_lib.kernels.augment import AugmentConfig, two_views
from course_lib.progress import progress

if TYPE_CHECKING:
    from course_lib.assignments.simsiam.profile import SimSiamProfile


def prepare_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize (N, C, H, W) images to ``size`` x ``size`` (antialiased bilinear); a no-op at that size."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    return torch.nn.functional.interpolate(
        images, size=(size, size), mode="bilinear", align_corners=False, antialias=True
    ).clamp(-1, 1)  # (N, C, size, size)


def sgd_with_cosine(
    model: nn.Module, *, lr: float, momentum: float, weight_decay: float, total_steps: int
) -> tuple[torch.optim.SGD, torch.optim.lr_scheduler.LambdaLR]:
    """SGD and a per-step cosine decay of the learning rate to 0 (paper Sec. 4)."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    # lr_t = lr * 0.5 * (1 + cos(pi t / T))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: 0.5 * (1 + math.cos(math.pi * min(t, total_steps) / total_steps))
    )
    return opt, sched


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`train_simsiam`: made from a profile by :func:`config_for` (the profile holds the values).

    ``seed`` seeds the data order and the augmentation (the model is built by the caller); the kNN monitor runs
    every ``monitor_every`` epochs."""

    epochs: int
    batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    augment: AugmentConfig
    monitor_every: int
    seed: int

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.monitor_every < 1 or not self.lr > 0:
            raise ValueError(f"epochs, batch_size and monitor_every must be positive and lr > 0, got {self}")


def config_for(cfg: SimSiamProfile, *, ablation: bool = False) -> TrainConfig:
    """The one way a profile becomes a run: the loop's settings under a SimSiamProfile ``cfg`` (SGD with the
    paper's learning-rate rule, :attr:`SimSiamProfile.lr`; the profile's augmentation; seed ``cfg.seed``).
    An ``ablation`` run (no stop-gradient, or the identity predictor) trains ``cfg.ablation_epochs`` epochs when
    the profile sets them, and ``cfg.epochs`` otherwise."""
    epochs = cfg.ablation_epochs if ablation and cfg.ablation_epochs is not None else cfg.epochs
    return TrainConfig(
        epochs=epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        momentum=cfg.momentum,
        weight_decay=cfg.weight_decay,
        augment=cfg.augment_config(),
        monitor_every=cfg.knn_every,
        seed=cfg.seed,
    )


def train_simsiam(
    model: nn.Module,
    data: Dataset,
    *,
    forward: Callable,
    loss_fn: Callable,
    output_std: Callable,
    config: TrainConfig,
    stop_gradient: bool = True,
    monitor: Callable[[nn.Module], float] | None = None,
    device: torch.device | str | None = None,
    desc: str = "simsiam",
) -> dict:
    """Train ``model`` (a ``SimSiamNet``) with SimSiam on ``data.images``; return the history.

    Args:
        forward: ``simsiam_forward(model, x1, x2) -> (p1, p2, z1, z2)``.
        loss_fn: ``simsiam_loss(p1, p2, z1, z2, stop_gradient=...) -> scalar``.
        output_std: ``(B, d) -> scalar``: logged on z1 of every batch, averaged over the epoch.
        config: epochs, batch size, SGD, augmentation, monitor cadence, seed (:func:`config_for`).
        monitor: ``model -> kNN accuracy``, called before training (epoch 0) and every
            ``config.monitor_every`` epochs and after the last one.
        stop_gradient: passed to ``loss_fn`` (False is the collapse ablation).

    Returns:
        ``{"loss": [...], "std": [...]}`` per epoch (1..epochs) and ``"knn": {epoch: accuracy}``.
    """
    device = get_device(device)
    epochs, seed, augment, monitor_every = config.epochs, config.seed, config.augment, config.monitor_every
    prepare_model(model.to(device).train(), device, compile_modules=("encoder", "predictor"))  # opt-in
    cpu_gen = torch.Generator().manual_seed(seed)
    aug_gen = torch.Generator(device=device).manual_seed(seed + 1)
    loader = data.loader(config.batch_size, shuffle=True, drop_last=True, device=device, generator=cpu_gen)
    total = epochs * len(loader)
    opt, sched = sgd_with_cosine(
        model, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay, total_steps=total
    )
    history = {"loss": [], "std": [], "knn": {}}
    if monitor is not None:
        history["knn"][0] = monitor(model)
        model.train()
    bar = progress(total=total, desc=desc)
    for epoch in range(1, epochs + 1):
        loss_sum = torch.zeros((), device=device)
        std_sum = torch.zeros((), device=device)
        for x in loader:
            x1, x2 = two_views(x, augment, generator=aug_gen)
            with autocast(device):
                p1, p2, z1, z2 = forward(model, x1, x2)
            loss = loss_fn(p1.float(), p2.float(), z1.float(), z2.float(), stop_gradient=stop_gradient)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.detach()
            std_sum += output_std(z1.detach().float())
            bar.update(1)
        history["loss"].append(float(loss_sum) / len(loader))  # one sync per epoch
        history["std"].append(float(std_sum) / len(loader))
        if monitor is not None and (epoch % monitor_every == 0 or epoch == epochs):
            history["knn"][epoch] = monitor(model)
            model.train()
        bar.set_postfix(loss=f"{history['loss'][-1]:.3f}", std=f"{history['std'][-1]:.3f}")
    bar.close()
    return history


def profile_data(cfg: SimSiamProfile) -> tuple[Dataset, Dataset]:
    """The (train, held-out) splits of a ``SimSiamProfile``'s data set, resized to its image size."""
    from course_lib.data import load

    out = []
    for split in ("train", cfg.heldout_split):
        ds = load(cfg.dataset, split)
        out.append(Dataset(prepare_images(ds.images, cfg.image_size), ds.labels, ds.name, split))
    return out[0], out[1]


def train_profile(
    model: nn.Module,
    cfg: SimSiamProfile,
    *,
    forward: Callable,
    loss_fn: Callable,
    output_std: Callable,
    knn_predict: Callable | None = None,
    stop_gradient: bool = True,
    seed: int | None = None,
    device: torch.device | str | None = None,
    desc: str = "simsiam",
) -> dict:
    """:func:`train_simsiam` with every setting taken from the profile ``cfg`` (a ``SimSiamProfile``), through
    :func:`config_for`; ``seed`` (default ``cfg.seed``) seeds this run's data order and augmentation. An
    ablation (``stop_gradient=False``, or ``model`` built with ``predictor="identity"``) trains
    ``cfg.ablation_epochs`` epochs where the profile sets them.

    The kNN monitor (when ``knn_predict`` is given) classifies the held-out split with the training
    split as the bank, using ``cfg.knn_k`` neighbours and temperature ``cfg.knn_t``.
    """
    from course_lib.metrics.knn import knn_accuracy

    device = get_device(device)
    # an ablation: no stop-gradient, or a SimSiamNet built with the identity predictor
    ablation = not stop_gradient or getattr(getattr(model, "cfg", None), "predictor", "mlp") == "identity"
    config = config_for(cfg, ablation=ablation)
    train, heldout = profile_data(cfg)
    monitor = None
    if knn_predict is not None:

        def monitor(m: nn.Module) -> float:
            return knn_accuracy(
                m.backbone,
                knn_predict,
                bank_images=train.images,
                bank_labels=train.labels,
                query_images=heldout.images,
                query_labels=heldout.labels,
                k=cfg.knn_k,
                temperature=cfg.knn_t,
                num_classes=int(train.labels.max()) + 1,
                device=device,
            )

    return train_simsiam(
        model,
        train,
        forward=forward,
        loss_fn=loss_fn,
        output_std=output_std,
        config=config if seed is None else dataclasses.replace(config, seed=seed),
        stop_gradient=stop_gradient,
        monitor=monitor,
        device=device,
        desc=desc,
    )


def load_simsiam(
    path: str | os.PathLike, cfg: SimSiamProfile, *, predictor: str = "mlp", device: torch.device | str | None = None
) -> nn.Module:
    """The profile's ``SimSiamNet`` (``predictor="identity"`` for that ablation) with the checkpoint at
    ``path`` loaded, in eval mode (CheckpointError if it does not fit)."""
    from course_lib.checkpoints import load_into
    from course_lib.nets.simsiam import SimSiamNet

    device = get_device(device)
    model = SimSiamNet(cfg.net_config(predictor=predictor))
    load_into(model, path)
    return model.to(device).eval()


def random_init_model(cfg: SimSiamProfile, *, seed: int = 0) -> nn.Module:
    """The profile's ``SimSiamNet`` at random initialisation (``torch.manual_seed(seed)`` first): the baseline
    the kNN gain is measured against."""
    from course_lib.nets.simsiam import SimSiamNet

    torch.manual_seed(seed)
    return SimSiamNet(cfg.net_config()).eval()


def heldout_scores(
    model: nn.Module,
    cfg: SimSiamProfile,
    *,
    knn_predict: Callable | None = None,
    output_std: Callable | None = None,
    data: tuple[Dataset, Dataset] | None = None,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """What the threshold cells grade: the kNN accuracy of ``model``'s backbone (``knn_predict``, the
    training split as the bank, ``cfg.knn_k`` neighbours, temperature ``cfg.knn_t``) and ``output_std`` of its
    encoder outputs, both on ``cfg.heldout_split``. The visible part passes the student's functions, the
    hidden part the instructors' references; either may be None (that score is left out).

    Args:
        data: ``profile_data(cfg)`` if already loaded.
    """
    from course_lib.metrics.knn import knn_accuracy, mean_output_std

    device = get_device(device)
    train, heldout = data if data is not None else profile_data(cfg)
    model = model.to(device).eval()
    out = {}
    if knn_predict is not None:
        out["knn_accuracy"] = knn_accuracy(
            model.backbone,
            knn_predict,
            bank_images=train.images,
            bank_labels=train.labels,
            query_images=heldout.images,
            query_labels=heldout.labels,
            k=cfg.knn_k,
            temperature=cfg.knn_t,
            num_classes=10,
            device=device,
        )
    if output_std is not None:
        out["output_std"] = mean_output_std(model, heldout.images, output_std, device=device)
    return out
