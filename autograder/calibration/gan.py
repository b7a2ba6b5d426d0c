"""Calibration spec of 01_gan: the FID of each variant's generator."""
from __future__ import annotations

from autograder.reference import gan as ref
from course_lib.profiles.gan import VARIANTS

from . import Spec, Threshold, seed_only


def measure(folder, cfg, functions=None) -> dict[str, float]:
    """``autograder.reference.gan.evaluate_checkpoint`` of each variant (cfg.fid_samples samples, fixed seed)."""
    return {f"fid_{v}": ref.evaluate_checkpoint(v, folder / "checkpoints" / f"{v}.pt") for v in VARIANTS}


SPEC = Spec(
    assignment="01_gan",
    thresholds=tuple(
        Threshold(f"fid_{v}", f"test_threshold_{v}", "<", f"{v}: FID of the generator", field=f"max_fid_{v}",
                  checkpoints=(v,))
        for v in VARIANTS),
    measure=measure,
    seed_overrides=seed_only,
    dry_run={"iterations": 4, "iterations_wgan": 2, "fid_every": 2, "fid_samples_train": 32, "fid_samples": 64,
             "width": 16, "batch_size": 16},
    about=("FID of `fid_samples` samples of each checkpoint's generator (z from the reference's own seed) with the "
           "offline digit features against the validation split, by `autograder.reference.gan.evaluate_checkpoint`, "
           "the evaluator of the hidden tests (lower is better)."),
)
