"""Image grids and curves. Every figure function returns the matplotlib Figure and, given ``path``,
also saves it as a PNG (the autograder's report and CI logs show those files)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import MaxNLocator

from .data.ranges import to_unit

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def image_grid(images: torch.Tensor, nrow: int = 8, *, value_range: str = "model", pad: int = 2) -> np.ndarray:
    """Tile images into one array.

    Args:
        images: (B, C, H, W) with C in {1, 3}.
        nrow: images per row.
        value_range: ``"model"`` for [-1, 1] or ``"unit"`` for [0, 1] (binarized sets are unit).

    Returns:
        (rows*(H+pad)+pad, nrow*(W+pad)+pad, 3) float array in [0, 1].
    """
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"image_grid expects (B, C, H, W) with C 1 or 3, got {tuple(images.shape)}")
    if value_range not in ("model", "unit"):
        raise ValueError(f"unknown value_range {value_range!r}; expected 'model' or 'unit'")
    x = images.detach().float().cpu()
    x = to_unit(x) if value_range == "model" else x.clamp(0, 1)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)  # (B, 3, H, W)
    b, _, h, w = x.shape
    rows = (b + nrow - 1) // nrow
    grid = np.ones((rows * (h + pad) + pad, nrow * (w + pad) + pad, 3), dtype=np.float32)
    for i in range(b):
        r, c = divmod(i, nrow)
        grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = (
            x[i].permute(1, 2, 0).numpy()  # (H, W, 3)
        )
    return grid


def show_images(
    images: torch.Tensor,
    nrow: int = 8,
    *,
    title: str = "",
    value_range: str = "model",
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    path: str | os.PathLike | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Show an image grid; returns the Figure (saved to ``path`` as PNG when given).

    ``row_labels`` / ``col_labels`` (one string per grid row / column) name the rows on the left and the
    columns at the bottom; without them the axes are hidden.
    """
    grid = image_grid(images, nrow, value_range=value_range)
    if ax is None:
        fig, ax = plt.subplots(
            figsize=(min(12, 1.0 + 0.6 * nrow), min(12, 1.0 + 0.6 * grid.shape[0] / grid.shape[1] * nrow))
        )
    else:
        fig = ax.figure
    ax.imshow(grid, interpolation="nearest")
    rows, (h, w) = (images.shape[0] + nrow - 1) // nrow, images.shape[-2:]
    for labels, count, name in ((row_labels, rows, "row"), (col_labels, min(nrow, images.shape[0]), "column")):
        if labels is not None and len(labels) != count:
            raise ValueError(f"{len(labels)} {name} labels for a grid of {count} {name}s")
    if row_labels is None and col_labels is None:
        ax.set_axis_off()
    else:
        for spine in ax.spines.values():
            spine.set_visible(False)
        # tick at the centre of each row / column of the grid (pad 2 pixels between images, as image_grid)
        ax.set_yticks([2 + r * (h + 2) + h / 2 for r in range(rows)] if row_labels is not None else [])
        ax.set_yticklabels(list(row_labels) if row_labels is not None else [])
        ax.set_xticks([2 + c * (w + 2) + w / 2 for c in range(len(col_labels))] if col_labels is not None else [])
        ax.set_xticklabels(list(col_labels) if col_labels is not None else [])
        ax.tick_params(length=0)
    if title:
        ax.set_title(title)
    _save(fig, path)
    return fig


def plot_curves(
    curves: Mapping[str, Sequence[float] | Mapping[int, float]],
    *,
    xlabel: str = "epoch",
    ylabel: str = "",
    title: str = "",
    logy: bool = False,
    path: str | os.PathLike | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Plot named curves on shared axes.

    Args:
        curves: label -> values (x = 0, 1, ...) or label -> {x: value}. When every x is an int (epochs,
            steps), the x ticks are whole numbers.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    else:
        fig = ax.figure
    whole = True
    for label, values in curves.items():
        if isinstance(values, Mapping):
            xs, ys = zip(*sorted(values.items())) if values else ((), ())
        else:
            xs, ys = range(len(values)), list(values)
        whole = whole and all(isinstance(x, (int, np.integer)) for x in xs)
        ax.plot(list(xs), [float(v) for v in ys], label=label, marker="o" if len(ys) < 30 else None)
    if whole:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no tick at epoch 2.5
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    if curves:
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, path)
    return fig


def _save(fig, path) -> None:
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100, bbox_inches="tight")
