"""Instructors' reference for 04_simsiam: the kNN classifier and output std used by hidden tests,
and the evaluator that scores a submitted checkpoint on held-out data (never a printed number).

Students never see this module; the hidden parts of the graded cells import it.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from course_lib.assignments.simsiam.profile import ABLATIONS
from course_lib.assignments.simsiam.train import heldout_scores, load_simsiam, random_init_model
from course_lib.device import get_device


def negative_cosine_similarity(p, z, stop_gradient=True):
    """-mean_b cos(p_b, z_b), z detached when ``stop_gradient`` (paper Eq. 1)."""
    if stop_gradient:
        z = z.detach()
    return -F.cosine_similarity(p, z, dim=1).mean()


def simsiam_loss(p1, p2, z1, z2, stop_gradient=True):
    """Symmetrised loss L = D(p1, z2)/2 + D(p2, z1)/2 (paper Eq. 2 / Eq. 4)."""
    return (negative_cosine_similarity(p1, z2, stop_gradient) + negative_cosine_similarity(p2, z1, stop_gradient)) / 2


def simsiam_forward(model, x1, x2):
    """(p1, p2, z1, z2) with z = encoder(x), p = predictor(z)."""
    z1, z2 = model.encoder(x1), model.encoder(x2)
    return model.predictor(z1), model.predictor(z2), z1, z2


def knn_predict(query, bank, bank_labels, k, temperature, num_classes):
    """Weighted kNN vote (Wu et al., 2018): cosine similarities, top k, weights exp(s / t)."""
    q = F.normalize(query.float(), dim=1)  # (M, F)
    b = F.normalize(bank.float(), dim=1)  # (N, F)
    sim = q @ b.T  # (M, N)
    top_sim, top_idx = sim.topk(k, dim=1)  # (M, k)
    weights = torch.exp(top_sim / temperature)  # (M, k)
    votes = torch.zeros(len(q), num_classes, device=q.device, dtype=weights.dtype)
    votes.scatter_add_(1, bank_labels[top_idx], weights)  # (M, C)
    return votes.argmax(dim=1)


def output_std(z):
    """Mean over dimensions of the per-dimension std (over the batch) of z / ||z|| (paper Sec. 3)."""
    zn = F.normalize(z.float(), dim=1)  # (B, d)
    return zn.std(dim=0).mean()


def load_model(path: str | Path, cfg) -> torch.nn.Module:
    """Build the profile's network and load a submitted checkpoint into it (CheckpointError if unfit); the
    file's stem names the run (``simsiam``, or an ablation of ``ABLATIONS``, which says its predictor)."""
    stem = Path(path).stem
    if stem != "simsiam" and stem not in ABLATIONS:
        raise ValueError(
            f"{Path(path).name}: a 04_simsiam checkpoint is named after its run, one of simsiam, {', '.join(ABLATIONS)}"
        )
    predictor = ABLATIONS[stem][1] if stem in ABLATIONS else "mlp"
    return load_simsiam(path, cfg, predictor=predictor)


def evaluate(model: torch.nn.Module, cfg, *, device: str | torch.device | None = None) -> dict:
    """kNN accuracy (reference classifier) and output std of ``model`` on the held-out split: course_lib's
    :func:`~course_lib.assignments.simsiam.train.heldout_scores` (the harness the visible part calls with the student's
    functions) with this module's :func:`knn_predict` and :func:`output_std`."""
    device = get_device(device)
    return heldout_scores(model, cfg, knn_predict=knn_predict, output_std=output_std, device=device)


def random_init_accuracy(cfg, *, seed: int = 0, device: str | torch.device | None = None) -> float:
    """kNN accuracy of the profile's backbone at random initialisation (``seed``): the baseline."""
    device = get_device(device)
    return evaluate(random_init_model(cfg, seed=seed), cfg, device=device)["knn_accuracy"]


def evaluate_checkpoint(path: str | Path, cfg, *, device: str | torch.device | None = None) -> dict:
    """Load a submitted checkpoint (:func:`load_model`) and :func:`evaluate` it."""
    device = get_device(device)
    return evaluate(load_model(path, cfg), cfg, device=device)
