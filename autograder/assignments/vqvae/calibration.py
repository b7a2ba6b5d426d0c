"""Calibration spec of 06_vqvae: the held-out reconstruction MSE of each codebook size's run."""

from __future__ import annotations

from autograder.assignments.vqvae import reference as ref
from autograder.calibration import Spec, Threshold, seed_only

SIZES = (64, 128, 256)


def measure(folder, cfg, functions=None) -> dict[str, float]:
    """What the hidden part of each threshold cell computes for the run's ``checkpoints/vqvae_<K>.pt``."""
    return {
        f"recon_{k}": ref.evaluate_checkpoint(folder / "checkpoints" / f"vqvae_{k}.pt", cfg)["recon"] for k in SIZES
    }


SPEC = Spec(
    assignment="06_vqvae",
    thresholds=tuple(
        Threshold(
            f"recon_{k}",
            f"test_threshold_vqvae_{k}",
            "<",
            f"held-out reconstruction MSE, K = {k}",
            field=f"max_recon_{k}",
            checkpoints=(f"vqvae_{k}",),
        )
        for k in SIZES
    ),
    measure=measure,
    seed_overrides=seed_only,
    dry_run={"epochs": 1, "train_size": 256, "eval_size": 64},
    about=(
        "Held-out reconstruction MSE (mean over every pixel, model range [-1, 1]) of `checkpoints/vqvae_<K>.pt` on the "
        "first `eval_size` validation digits, by `autograder.assignments.vqvae.reference.evaluate_checkpoint` (the "
        "reference quantiser)."
    ),
    notes=(
        "`straight_through_missing` trains an encoder that only the commitment term moves; `codebook_no_stopgrad` and "
        "`commitment_wrong_side` change where the VQ terms pull. Each retrains every run (docs/assignments/06_vqvae.md)."
    ),
)
