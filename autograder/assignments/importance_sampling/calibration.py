"""Calibration spec of 05_importance_sampling: held-out ELBO, importance-sampled log p(x), and their gap."""

from __future__ import annotations

from autograder.assignments.importance_sampling import reference as ref
from autograder.calibration import Spec, Threshold, seed_only


def measure(folder, cfg, functions=None) -> dict[str, float]:
    """``autograder.assignments.importance_sampling.reference.evaluate_checkpoint`` of ``checkpoints/vae.pt``."""
    r = ref.evaluate_checkpoint(folder / "checkpoints" / "vae.pt", cfg)
    return {"elbo": r["elbo"], "log_px": r["log_px"], "gap": r["gap"]}


SPEC = Spec(
    assignment="05_importance_sampling",
    thresholds=(
        Threshold(
            "elbo",
            "test_threshold_elbo",
            ">=",
            "held-out ELBO (nats per digit)",
            field="min_elbo",
            checkpoints=("vae",),
        ),
        Threshold(
            "log_px",
            "test_threshold_log_px",
            ">=",
            "importance-sampled log p(x), K = eval_k",
            field="min_log_px",
            checkpoints=("vae",),
        ),
        Threshold(
            "gap",
            "test_threshold_log_px",
            ">=",
            "log p(x) estimate minus ELBO on the same digits",
            field="min_gap",
            fixed=0.0,
            checkpoints=("vae",),
        ),
    ),
    measure=measure,
    seed_overrides=seed_only,
    dry_run={"epochs": 1, "eval_size": 50, "eval_k": 8, "hidden": 32},
    about=(
        "Held-out ELBO (one posterior sample per digit) and importance-sampled log p(x) of `checkpoints/vae.pt` "
        "on the first `eval_size` validation digits, by `autograder.assignments.importance_sampling.reference.evaluate_checkpoint` "
        "(the evaluator of the hidden tests); the gap cell checks that the estimate lies above the ELBO."
    ),
    notes=(
        "Only `bernoulli_mean` changes what training optimises (its fixture retrains): both threshold cells "
        "catch it by about 90 nats. `lme_sum`, `is_no_ratio` and `hard_coded` break functions that training "
        "does not call (the loop maximises the student's `elbo`, which uses neither `log_mean_exp` nor the "
        "importance sampler), and the hidden parts measure with the reference functions, so their trained runs "
        "equal the solution's seed for seed and only the unit-test cells catch them, as the registry says. "
        "`sigma = exp(logvar)` (ELBO about -126, log p(x) as good as the solution's, earlier tables) is not a "
        "registered mistake; the unit cell `test_elbo` catches it."
    ),
)
