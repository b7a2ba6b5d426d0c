"""Calibration spec of 04_simsiam: kNN accuracy and output std of the stop-gradient run, collapse of the ablations."""

from __future__ import annotations

from autograder.assignments.simsiam import reference as ref
from autograder.calibration import Spec, Threshold, seed_only

ABLATIONS = (("simsiam_no_stopgrad", "mlp"), ("simsiam_identity_predictor", "identity"))


def measure(folder, cfg, functions=None) -> dict[str, float]:
    """The reference kNN classifier and output std, as the hidden parts compute them."""
    ckpt = folder / "checkpoints"
    m = ref.evaluate_checkpoint(ckpt / "simsiam.pt", cfg)
    # the ablations whose collapse the cell grades in this profile (cfg.collapsed_runs)
    stds = [
        ref.evaluate_checkpoint(ckpt / f"{stem}.pt", cfg)["output_std"]
        for stem, _label, _pred in cfg.graded_ablations()
    ]
    return {
        "knn_accuracy": m["knn_accuracy"],
        "knn_gain": m["knn_accuracy"] - ref.random_init_accuracy(cfg),
        "output_std": float(m["output_std"]),
        "ablation_std": float(max(stds)),
    }


SPEC = Spec(
    assignment="04_simsiam",
    thresholds=(
        Threshold(
            "knn_accuracy",
            "test_threshold_knn",
            ">=",
            "kNN accuracy of the stop-gradient run",
            field="min_knn_accuracy",
            checkpoints=("simsiam",),
        ),
        Threshold(
            "knn_gain",
            "test_threshold_knn",
            ">=",
            "kNN accuracy minus the seed-0 random-init backbone's",
            field="min_knn_gain",
            checkpoints=("simsiam",),
        ),
        Threshold(
            "output_std",
            "test_threshold_no_collapse",
            ">=",
            "output std of the stop-gradient run",
            field="min_healthy_std",
            checkpoints=("simsiam",),
        ),
        Threshold(
            "ablation_std",
            "test_threshold_ablations_collapse",
            "<=",
            "largest output std of the graded ablations",
            field="max_collapsed_std",
            checkpoints=tuple(stem for stem, _ in ABLATIONS),
        ),
    ),
    measure=measure,
    seed_overrides=seed_only,
    check_fields=("collapsed_runs",),
    dry_run={
        "epochs": 1,
        "knn_every": 1,
        "width": 4,
        "proj_dim": 16,
        "proj_hidden": 16,
        "pred_hidden": 8,
        "batch_size": 256,
    },
    about=(
        "kNN accuracy (reference classifier, k = knn_k, t = knn_t, the training split as the bank) and output "
        "std of z/||z|| on the validation split, by `autograder.assignments.simsiam.reference.evaluate_checkpoint`; the gain "
        "subtracts the accuracy of the seed-0 random-init backbone, as the hidden test does; the ablation statistic "
        "covers the runs of the profile's `collapsed_runs`."
    ),
)
