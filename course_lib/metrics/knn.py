"""The kNN monitor of SimSiam / MoCo / InstDisc: feature bank extraction and the evaluation loop.

Wu et al. (2018) and He et al. (2020) monitor self-supervised training by classifying held-out
images with a weighted k-nearest-neighbour vote over the L2-normalised backbone features of the
training set (the *bank*). The classifier itself, ``knn_predict(query, bank, bank_labels, k,
temperature, num_classes)``, is the student's function in 04_simsiam; this module extracts the
features and runs the loop, calling whatever ``knn_predict`` it is given.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

KnnPredict = Callable[..., torch.Tensor]


@torch.no_grad()
def extract_features(
    backbone: nn.Module, images: torch.Tensor, *, batch_size: int = 512, device: torch.device | str | None = None
) -> torch.Tensor:
    """Backbone features of ``images`` in eval mode (BN running statistics), not normalised.

    Args:
        backbone: (B, C, H, W) -> (B, F).
        images: (N, C, H, W) in the model range [-1, 1].
        device: where to compute (default: the backbone's device).

    Returns:
        (N, F) float32 features on ``device``.
    """
    if images.dim() != 4:
        raise ValueError(f"extract_features expects images (N, C, H, W), got {tuple(images.shape)}")
    if device is None:
        device = next(backbone.parameters()).device
    was_training = backbone.training
    backbone.eval()
    try:
        feats = [backbone(images[i : i + batch_size].to(device)).float() for i in range(0, len(images), batch_size)]
    finally:
        backbone.train(was_training)
    return torch.cat(feats)  # (N, F)


@torch.no_grad()
def knn_accuracy(
    backbone: nn.Module,
    knn_predict: KnnPredict,
    *,
    bank_images: torch.Tensor,
    bank_labels: torch.Tensor,
    query_images: torch.Tensor,
    query_labels: torch.Tensor,
    k: int,
    temperature: float,
    num_classes: int,
    batch_size: int = 512,
    device: torch.device | str | None = None,
) -> float:
    """Top-1 accuracy of ``knn_predict`` on the query set with the bank's features and labels.

    ``knn_predict`` receives raw (unnormalised) features: normalising them is part of its job.
    The query set is classified in chunks of ``batch_size`` so the (chunk, N) similarity matrix
    stays small.

    Returns:
        The fraction of query images whose predicted class equals their label.
    """
    if k < 1 or k > len(bank_images):
        raise ValueError(f"k must lie in [1, {len(bank_images)}] (the bank size), got {k}")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    bank = extract_features(backbone, bank_images, batch_size=batch_size, device=device)  # (N, F)
    query = extract_features(backbone, query_images, batch_size=batch_size, device=device)  # (M, F)
    labels = bank_labels.to(bank.device)
    correct = torch.zeros((), device=bank.device)
    for i in range(0, len(query), batch_size):
        pred = knn_predict(query[i : i + batch_size], bank, labels, k, temperature, num_classes)  # (b,)
        correct += (pred.to(bank.device) == query_labels[i : i + batch_size].to(bank.device)).sum()
    return float(correct) / len(query)


@torch.no_grad()
def mean_output_std(
    model: nn.Module,
    images: torch.Tensor,
    output_std: Callable[[torch.Tensor], torch.Tensor],
    *,
    batch_size: int = 512,
    device: torch.device | str | None = None,
) -> float:
    """``output_std`` of the encoder outputs z of ``images`` (eval mode, all images at once).

    Args:
        model: a ``SimSiamNet`` (uses ``model.encoder``).
        output_std: (N, d) -> scalar, the student's collapse indicator.
    """
    z = extract_features(model.encoder, images, batch_size=batch_size, device=device)  # (N, d)
    return float(output_std(z))
