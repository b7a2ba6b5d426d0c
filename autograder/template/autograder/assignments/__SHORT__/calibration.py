"""Calibration spec of __NAME__: the held-out mean squared error of the trained line."""

from __future__ import annotations

from autograder.assignments.__SHORT__ import reference as ref
from autograder.calibration import Spec, Threshold, seed_only


def measure(folder, cfg, functions=None) -> dict[str, float]:
    """What the hidden part of the threshold cell computes for the run's ``checkpoints/line.pt``."""
    return ref.evaluate_checkpoint(folder / "checkpoints" / "line.pt", cfg)


SPEC = Spec(
    assignment="__NAME__",
    thresholds=(
        Threshold(
            "heldout_mse",
            "test_threshold_line",
            "<",
            "held-out MSE of the trained line",
            field="max_heldout_mse",
            checkpoints=("line",),
        ),
    ),
    measure=measure,
    seed_overrides=seed_only,
    dry_run={"steps": 5, "points": 16},
    about="Held-out mean squared error of `checkpoints/line.pt` by the reference `mse_loss`.",
)
