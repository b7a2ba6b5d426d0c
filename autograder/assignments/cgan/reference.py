"""Reference evaluators of 07_cgan (instructors only; the hidden parts of the graded cells call them).

The references are written differently from the notebook's solutions on purpose (the hidden tests compare the two):
the one-hot by indexing an identity matrix, the projection as a batched matrix product, the losses as softplus.
:func:`evaluate_checkpoint` measures a submitted ``checkpoints/cgan.pt`` with course_lib's harness and this module's
``generator_input``: never a number the notebook printed.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F

from course_lib.assignments.cgan.train import GRADED_SEED, class_accuracy, intra_fid, load_cgan
from course_lib.profiles import get_profile

ASSIGNMENT = "07_cgan"


def generator_input(z: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """(B, D), (B,) int64 -> (B, D + K): z, then the one-hot of the label (a row of the identity)."""
    eye = torch.eye(n_classes, dtype=z.dtype, device=z.device)
    return torch.cat([z, eye[labels]], dim=1)


def projection_logits(features, labels, embedding, psi) -> torch.Tensor:
    """Miyato and Koyama (2018), eq. 3: psi(phi) + y^T V phi, (B, F) -> (B,)."""
    V = embedding.weight[labels]  # (B, F)
    return psi(features).reshape(-1) + torch.bmm(V.unsqueeze(1), features.unsqueeze(2)).reshape(-1)


def d_loss_conditional(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """-mean log sigmoid(d_real) - mean log(1 - sigmoid(d_fake)), as softplus."""
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


def g_loss_conditional(d_fake: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss -mean log sigmoid(d_fake), as softplus."""
    return F.softplus(-d_fake).mean()


def evaluate_checkpoint(path: str | os.PathLike, cfg) -> dict[str, float]:
    """``{"class_accuracy": ..., "intra_fid": ...}`` of the generator saved at ``path`` (``checkpoints/cgan.pt``) under
    profile ``cfg``: ``cfg.samples_per_class`` samples of every class from the graded z, classified by
    ``cfg.classifier`` (nan without one), and their mean per-class FID against ``cfg.fid_split``."""
    path = Path(path)
    if not path.exists():
        raise AssertionError(f"no checkpoint at {path}: run the training cell (it saves the model there)")
    torch.manual_seed(0)
    gan = load_cgan(path, cfg)
    return {
        "class_accuracy": class_accuracy(gan.generator, cfg, generator_input, seed=GRADED_SEED),
        "intra_fid": intra_fid(gan.generator, cfg, generator_input, seed=GRADED_SEED)["intra_fid"],
    }


def check_class_accuracy_threshold(path: str | os.PathLike = "checkpoints/cgan.pt") -> float:
    """Assert the class accuracy of the generator at ``path`` is above the profile's threshold; returns it (a
    profile whose threshold is ``-inf`` grades nothing and returns nan)."""
    cfg = get_profile(ASSIGNMENT)
    limit = cfg.min_class_accuracy_cgan
    if limit == -math.inf:
        if not Path(path).exists():
            raise AssertionError(f"no checkpoint at {path}: run the training cell (it saves the model there)")
        print("class accuracy: not graded in this profile (no classifier of its classes ships with the course)")
        return math.nan
    value = evaluate_checkpoint(path, cfg)["class_accuracy"]
    assert value == value and value > limit, (
        f"class accuracy {value:.3f} of the generated samples is not above {limit}: check that the generator's input "
        "carries the class and that the discriminator's logit uses it (the projection term), then retrain"
    )
    return value


def check_intra_fid_threshold(path: str | os.PathLike = "checkpoints/cgan.pt") -> float:
    """Assert the intra-FID of the generator at ``path`` is below the profile's threshold; returns it (a profile whose
    threshold is ``inf`` grades nothing and returns nan)."""
    cfg = get_profile(ASSIGNMENT)
    limit = cfg.max_intra_fid_cgan
    if not Path(path).exists():
        raise AssertionError(f"no checkpoint at {path}: run the training cell (it saves the model there)")
    if limit == math.inf:
        print("intra-FID: not graded in this profile (no calibration of it has run)")
        return math.nan
    torch.manual_seed(0)
    value = intra_fid(load_cgan(path, cfg).generator, cfg, generator_input, seed=GRADED_SEED)["intra_fid"]
    assert value == value and value < limit, (
        f"intra-FID {value:.1f} of the generated samples is not below {limit}: each class's samples are far from that "
        "class's digits; check that the generator's input carries the class and that the discriminator's logit uses "
        "it, then retrain"
    )
    return value
