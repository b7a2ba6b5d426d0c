"""Training loop and measurement harness of 07_cgan. Everything takes the student's functions as arguments:

* ``generator_input_fn(z, labels, n_classes) -> (B, D + K)``: z and the one-hot class, the generator's input;
* ``projection_fn(features, labels, embedding, psi) -> (B,)``: the projection discriminator's logit;
* ``d_loss_fn(d_real, d_fake) -> scalar`` and ``g_loss_fn(d_fake) -> scalar``: the non-saturating losses on (B,)
  logits.

The loop draws all randomness itself (z and the fake images' classes from a seeded generator on the device, batches
from a seeded shuffle) and detaches the fake images for the discriminator's step. The visible threshold check and
the grader's hidden one call the same :func:`class_accuracy` and :func:`intra_fid` (with the student's
``generator_input`` and the reference one respectively) on the same fixed z.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from course_lib.checkpoints import load_into
from course_lib.data import Dataset
from course_lib.device import get_device, prepare_model
from course_lib.nets.cgan import CGAN, ConditionalGenerator, ProjectionDiscriminator, build_cgan
from course_lib.progress import progress

if TYPE_CHECKING:
    from course_lib.assignments.cgan.profile import CGANProfile

GRADED_SEED = 20_707  # the z of the graded class accuracy (not a seed the notebook samples with)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`train_cgan`: made from a profile by :func:`config_for` (the profile holds the values)."""

    iterations: int
    batch_size: int
    lr: float
    betas: tuple[float, float]
    log_every: int
    seed: int

    def __post_init__(self) -> None:
        if self.iterations < 1 or self.batch_size < 2 or not self.lr > 0 or self.log_every < 1:
            raise ValueError(f"iterations, log_every >= 1, batch_size >= 2 and lr > 0 needed, got {self}")


def config_for(cfg: CGANProfile, run: str | None = None) -> TrainConfig:
    """The one way a profile becomes a run: the loop's settings under a CGANProfile ``cfg`` (one run, ``cgan``)."""
    return TrainConfig(
        iterations=cfg.iterations,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        betas=tuple(cfg.betas),
        log_every=max(1, min(25, cfg.iterations // 20)),
        seed=cfg.seed,
    )


def generate(
    generator: ConditionalGenerator, z: torch.Tensor, labels: torch.Tensor, generator_input_fn: Callable
) -> torch.Tensor:
    """G(generator_input(z, y, K)): z (B, D), labels (B,) int64 -> images (B, C, H, W) in [-1, 1]."""
    return generator(generator_input_fn(z, labels, generator.n_classes))


def discriminate(
    discriminator: ProjectionDiscriminator, x: torch.Tensor, labels: torch.Tensor, projection_fn: Callable
) -> torch.Tensor:
    """The projection logit of images x (B, C, H, W) of classes labels (B,): (B,) float32."""
    features = discriminator.features(x)  # (B, F)
    return projection_fn(features, labels, discriminator.embedding, discriminator.psi).float()


def train_cgan(
    gan: CGAN,
    *,
    generator_input_fn: Callable,
    projection_fn: Callable,
    d_loss_fn: Callable,
    g_loss_fn: Callable,
    data: Dataset,
    config: TrainConfig,
    device: torch.device | str | None = None,
) -> dict[str, list[float]]:
    """Alternate one discriminator step (real images with their labels, detached fakes of uniformly drawn classes)
    and one generator step (fresh z and classes).

    Returns:
        ``{"iteration", "d_loss", "g_loss"}``: means over each ``log_every`` generator steps.
    """
    device = get_device(device)
    G, D = gan.generator.to(device).train(), gan.discriminator.to(device).train()
    for net in (G, D):
        prepare_model(net, device, compile=False)  # opt-in channels_last only, off by default
    gen = torch.Generator(device=device).manual_seed(config.seed)
    loader = data.loader(
        config.batch_size, device=device, drop_last=True, with_labels=True,
        generator=torch.Generator().manual_seed(config.seed),
    )  # fmt: skip
    batches = iter(loader)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=config.betas)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=config.betas)
    hist: dict[str, list[float]] = {"iteration": [], "d_loss": [], "g_loss": []}
    sums = torch.zeros(2, device=device)  # running d_loss, g_loss: no host sync per step
    B, K = config.batch_size, gan.n_classes

    def draw() -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.randn(B, G.latent_dim, device=device, generator=gen)  # (B, D)
        return z, torch.randint(0, K, (B,), device=device, generator=gen)  # (B,) int64

    for it in progress(range(1, config.iterations + 1), desc="cGAN iterations"):
        x, y = next(batches, (None, None))
        if x is None:  # a new epoch
            batches = iter(loader)
            x, y = next(batches)
        z, y_fake = draw()
        with torch.no_grad():  # the discriminator's step does not reach the generator
            fake = generate(G, z, y_fake, generator_input_fn)
        loss_d = d_loss_fn(discriminate(D, x, y, projection_fn), discriminate(D, fake, y_fake, projection_fn))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        z, y_fake = draw()
        loss_g = g_loss_fn(discriminate(D, generate(G, z, y_fake, generator_input_fn), y_fake, projection_fn))
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
    G.eval()
    D.eval()
    return hist


def class_grid_inputs(n_classes: int, per_class: int, latent_dim: int, *, seed: int) -> tuple[torch.Tensor, ...]:
    """``(z, labels)`` on the CPU for ``per_class`` samples of every class, class-major (labels 0, 0, ..., 1, ...):
    z (K * n, D) from a CPU generator seeded with ``seed``, the same n vectors of z for every class."""
    z = torch.randn(per_class, latent_dim, generator=torch.Generator().manual_seed(seed))  # (n, D)
    labels = torch.arange(n_classes).repeat_interleave(per_class)  # (K * n,)
    return z.repeat(n_classes, 1), labels  # (K * n, D), (K * n,)


@torch.no_grad()
def sample_classes(
    generator: ConditionalGenerator,
    generator_input_fn: Callable,
    per_class: int,
    *,
    seed: int = 0,
    batch_size: int = 500,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_class`` samples of every class, the same z for each class (see :func:`class_grid_inputs`).

    Returns:
        ``(images, labels)``: (K * n, C, H, W) clamped to [-1, 1] and (K * n,) int64, class-major, on the CPU.
    """
    device = torch.device(device) if device is not None else next(generator.parameters()).device
    generator.eval()
    z, labels = class_grid_inputs(generator.n_classes, per_class, generator.latent_dim, seed=seed)
    out = [
        generate(generator, z[i : i + batch_size].to(device), labels[i : i + batch_size].to(device), generator_input_fn)
        .float()
        .clamp(-1, 1)
        .cpu()
        for i in range(0, len(z), batch_size)
    ]
    return torch.cat(out), labels


@functools.lru_cache(maxsize=2)
def _digit_classifier(device: str):
    from course_lib.metrics.features import DIGIT_WEIGHTS
    from course_lib.nets.digit_classifier import DigitClassifier

    net = DigitClassifier()
    load_into(net, DIGIT_WEIGHTS)
    return net.to(device).eval().requires_grad_(False)


@torch.no_grad()
def class_accuracy(
    generator: ConditionalGenerator,
    cfg: CGANProfile,
    generator_input_fn: Callable,
    *,
    seed: int = GRADED_SEED,
    device: torch.device | str | None = None,
) -> float:
    """What a threshold cell grades: the fraction of ``cfg.samples_per_class`` samples of every class (a fixed z,
    seeded with ``seed``) that ``cfg.classifier`` assigns the class they were generated for.

    Returns nan when the profile has no classifier (``classifier="none"``) or a sample is not finite.
    """
    if cfg.classifier == "none":
        return math.nan
    device = get_device(device)
    images, labels = sample_classes(
        generator.to(device), generator_input_fn, cfg.samples_per_class, seed=seed, device=device
    )
    if not torch.isfinite(images).all():
        return math.nan
    classifier = _digit_classifier(str(device))
    predicted = torch.cat([classifier(b.to(device)).argmax(1).cpu() for b in images.split(500)])
    return float((predicted == labels).double().mean())


@functools.lru_cache(maxsize=4)
def _class_statistics(dataset: str, split: str, extractor_name: str, n_classes: int, device: str) -> tuple:
    """Per class k: ``(mu_k, sigma_k)`` of the extractor's features of the split's images of class k (computed once
    per process: the held-out split is the same for every checkpoint)."""
    from course_lib.data import load
    from course_lib.metrics.fid import compute_features, feature_statistics, get_extractor

    data = load(dataset, split)
    counts = torch.bincount(data.labels, minlength=n_classes)
    if len(counts) > n_classes or int(counts.min()) < 2:
        raise ValueError(
            f"the intra-FID needs at least 2 images of each of the {n_classes} classes in {dataset}/{split}, "
            f"found {counts.tolist()} per class"
        )
    feats = torch.from_numpy(compute_features(data.images, get_extractor(extractor_name, device=device)))
    return tuple(feature_statistics(feats[data.labels == k]) for k in range(n_classes))


@torch.no_grad()
def intra_fid(
    generator: ConditionalGenerator,
    cfg: CGANProfile,
    generator_input_fn: Callable,
    *,
    seed: int = GRADED_SEED,
    device: torch.device | str | None = None,
) -> dict[str, float | list[float]]:
    """What the intra-FID threshold cell grades (Miyato and Koyama 2018, Sec. 5.1): for every class, the FID between
    ``cfg.samples_per_class`` samples of that class (the fixed z of :func:`class_accuracy`) and the
    ``cfg.fid_split`` images of that class, with ``cfg.extractor``'s features; their mean.

    An unconditional generator (or one whose classes are wrong) is far from each class's images even where its
    samples look like digits: the per-class FID measures quality and diversity within a class, which class accuracy
    does not.

    Returns:
        ``{"intra_fid": mean over classes, "per_class": [FID of class k for k < K]}``; nan (and no per-class list)
        when a sample is not finite.
    """
    from course_lib.metrics.fid import compute_features, feature_statistics, frechet_distance, get_extractor

    if cfg.samples_per_class < 2:
        raise ValueError(f"the intra-FID needs samples_per_class >= 2, got {cfg.samples_per_class}")
    device = get_device(device)
    images, labels = sample_classes(
        generator.to(device), generator_input_fn, cfg.samples_per_class, seed=seed, device=device
    )
    if not torch.isfinite(images).all():
        return {"intra_fid": math.nan, "per_class": []}
    reference = _class_statistics(cfg.dataset, cfg.fid_split, cfg.extractor, generator.n_classes, str(device))
    feats = torch.from_numpy(compute_features(images, get_extractor(cfg.extractor, device=device)))
    per_class = [
        frechet_distance(*feature_statistics(feats[labels == k]), *reference[k]) for k in range(generator.n_classes)
    ]
    return {"intra_fid": float(sum(per_class) / len(per_class)), "per_class": per_class}


def load_cgan(path: str | os.PathLike, cfg: CGANProfile, *, device: torch.device | str | None = None) -> CGAN:
    """A fresh ``build_cgan(cfg)`` with the checkpoint at ``path`` loaded (CheckpointError if it does not fit)."""
    gan = build_cgan(cfg)
    load_into(gan, path)
    return gan.to(get_device(device)).eval()
