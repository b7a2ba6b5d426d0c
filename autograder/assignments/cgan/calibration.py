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
        Threshold(
            "intra_fid",
            "test_threshold_cgan_intra_fid",
            "<",
            "intra-FID of the generated samples",
            field="max_intra_fid_cgan",
            checkpoints=("cgan",),
        ),
    ),
    measure=measure,
    seed_overrides=seed_only,
    check_fields=("extractor", "fid_split"),  # what the intra-FID compares with: nothing that trains
    dry_run={"iterations": 4, "batch_size": 16, "width": 16, "samples_per_class": 5},
    about=(
        "Class accuracy of `checkpoints/cgan.pt`: `samples_per_class` samples of each of the ten digits from one fixed "
        "set of z (the reference's seed), classified by the digit classifier the course ships "
        "(course_lib/assets/digit_classifier.pt, 0.975 on the held-out digits), by "
        "`autograder.assignments.cgan.reference.evaluate_checkpoint` (higher is better; chance is 0.1); and their "
        "intra-FID (Miyato and Koyama 2018): the mean over the ten classes of the FID, with the offline digit "
        "features, between the class's samples and the validation split's digits of that class (about 100 each; "
        "lower is better)."
    ),
    notes=(
        "Every student function is called by training, so every mistake retrains the run. "
        "`labels_ignored_by_discriminator` (no projection term: an unconditional discriminator) and "
        "`generator_ignores_labels` (zeros instead of the one-hot) give samples whose classes are chance and fail "
        "`test_threshold_cgan`. The saturating generator loss (`g_saturating`) trains this short run to "
        "class-conditional digits as well, so only `test_g_loss_conditional` catches it. `hard_coded` (the visible "
        "example's tensor) stops training at the generator's input check: no checkpoint, the threshold cell fails. "
        "The intra-FID threshold came after the first calibration: `--reuse --remeasure` measured every recorded run's "
        "checkpoint again with it (the training cells, and so the fingerprints, are unchanged; nothing retrained). It "
        "catches the two label mistakes (915-1,030 against correct runs' 234 +- 32) and, like the class accuracy, not "
        "the saturating generator loss (184-221)."
    ),
)
