"""04_simsiam widget: what each run's features call "similar".

A slider picks a held-out query image; each row shows that query and its nearest training images by
Euclidean distance of the backbone features of one run (stop-gradient, no stop-gradient, identity
predictor). A collapsed run returns neighbours of every class. (The kNN monitor ranks by cosine
similarity instead: that is your ``knn_predict``.) The features are extracted once, so a slider move
is one distance computation per run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch

from course_lib.viz import image_grid

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def nearest_neighbours(query: torch.Tensor, bank: torch.Tensor, k: int) -> torch.Tensor:
    """Indices (M, k) of the ``k`` bank rows closest to each query row in Euclidean distance.

    Args:
        query: (M, F) features; bank: (N, F) features.
    """
    if query.dim() != 2 or bank.dim() != 2 or query.shape[1] != bank.shape[1]:
        raise ValueError(f"expected (M, F) and (N, F) features, got {tuple(query.shape)} and {tuple(bank.shape)}")
    dist = torch.cdist(query.double(), bank.double())  # (M, N)
    return dist.topk(k, dim=1, largest=False).indices


def neighbours_frame(
    query_images: torch.Tensor,
    bank_images: torch.Tensor,
    features: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    index: int,
    k: int = 8,
) -> Figure:
    """Figure: one row per run, the query image then its ``k`` nearest bank images.

    Args:
        query_images: (M, C, H, W) in [-1, 1]; bank_images: (N, C, H, W) in [-1, 1].
        features: run name -> (query features (M, F), bank features (N, F)).
        index: which query.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(features), 1, figsize=(1.0 + 0.7 * (k + 1), 1.1 * len(features) + 0.4), squeeze=False)
    for ax, (name, (q, b)) in zip(axes[:, 0], features.items()):
        idx = nearest_neighbours(q[index : index + 1], b, k)[0]  # (k,)
        row = torch.cat([query_images[index : index + 1].cpu(), bank_images[idx].cpu()])  # (k + 1, C, H, W)
        ax.imshow(image_grid(row, nrow=k + 1), interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(f"{name}: query | {k} nearest training images", fontsize=9, loc="left")
    fig.tight_layout()
    plt.close(fig)
    return fig


def neighbours_widget(
    query_images: torch.Tensor,
    bank_images: torch.Tensor,
    features: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    *,
    k: int = 8,
    index: int = 0,
) -> None:
    """A slider over the held-out query index (see :func:`neighbours_frame`)."""
    import ipywidgets as w

    from course_lib.widgets import interactive_or_static

    return interactive_or_static(
        lambda index: neighbours_frame(query_images, bank_images, features, index, k),
        index=w.IntSlider(value=index, min=0, max=len(query_images) - 1, description="query"),
    )
