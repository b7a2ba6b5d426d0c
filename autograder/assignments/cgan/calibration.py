"""Calibration spec of 07_cgan: the class accuracy of the conditional generator's samples."""

from __future__ import annotations

from autograder.assignments.cgan import reference as ref
from autograder.calibration import Spec, Threshold, seed_only


def measure(folder, cfg, functions=None) -> dict[str, float]:
    """What the hidden part of the threshold cell computes for the run's ``checkpoints/cgan.pt``."""
    return ref.evaluate_checkpoint(folder / "checkpoints" / "cgan.pt", cfg)


SPEC = Spec(
    assignment="07_cgan",
    thresholds=(
        Threshold(
            "class_accuracy",
            "test_threshold_cgan",
            ">",
            "class accuracy of the generated samples",
            field="min_class_accuracy_cgan",
            checkpoints=("cgan",),
        ),
    ),
    measure=measure,
    seed_overrides=seed_only,
    dry_run={"iterations": 4, "batch_size": 16, "width": 16, "samples_per_class": 5},
    about=(
        "Class accuracy of `checkpoints/cgan.pt`: `samples_per_class` samples of each of the ten digits from one fixed "
        "set of z (the reference's seed), classified by the digit classifier the course ships "
        "(course_lib/assets/digit_classifier.pt, 0.975 on the held-out digits), by "
        "`autograder.assignments.cgan.reference.evaluate_checkpoint` (higher is better; chance is 0.1)."
    ),
    notes=(
        "Every student function is called by training, so every mistake retrains the run. "
        "`labels_ignored_by_discriminator` (no projection term: an unconditional discriminator) and "
        "`generator_ignores_labels` (zeros instead of the one-hot) give samples whose classes are chance and fail "
        "`test_threshold_cgan`. The saturating generator loss (`g_saturating`) trains this short run to "
        "class-conditional digits as well, so only `test_g_loss_conditional` catches it. `hard_coded` (the visible "
        "example's tensor) stops training at the generator's input check: no checkpoint, the threshold cell fails."
    ),
)
