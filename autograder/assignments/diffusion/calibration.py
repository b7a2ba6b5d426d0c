"""Calibration spec of 03_diffusion: FID of DDPM and DDIM samples with the student's step functions from the
pretrained model, and the held-out noise-prediction loss of the trained checkpoint."""

from __future__ import annotations

import math

from autograder.assignments.diffusion import reference as ref
from autograder.calibration import Spec, Threshold


def measure(folder, cfg, functions=None) -> dict[str, float]:
    """What the hidden parts compute: samples drawn with the run's own ``p_sample`` / ``ddim_step``.

    Each statistic on its own, as each threshold cell is judged on its own: one that raises (a step function
    that fails, a checkpoint training never wrote) is nan, which fails its threshold, and leaves the others."""
    ddpm = folder / "checkpoints" / "ddpm.pt"
    parts = {
        "fid_ddpm": lambda: ref.sample_fid("ddpm", functions.p_sample, cfg, ddpm),
        "fid_ddim": lambda: ref.sample_fid("ddim", functions.ddim_step, cfg, ddpm),
        "heldout_loss": lambda: ref.evaluate_checkpoint(ddpm, cfg)["heldout_loss"],
    }
    out = {}
    for key, compute in parts.items():
        try:
            out[key] = float(compute())
        except Exception:  # noqa: BLE001 - what the hidden test would fail on
            out[key] = math.nan
    return out


def seed_overrides(seed: int) -> dict:
    # the graded samples always use sample_seed 1234, so a correct p_sample gives one FID up to float noise;
    # varying the sampling seed with the training seed is a deliberately wider spread than students meet
    return {"seed": seed, "sample_seed": 1234 + seed}


SPEC = Spec(
    assignment="03_diffusion",
    thresholds=(
        Threshold(
            "fid_ddpm",
            "test_threshold_fid_ddpm",
            "<",
            "FID of DDPM samples (T steps)",
            field="max_fid_ddpm",
            uses=("p_sample",),
        ),
        Threshold(
            "fid_ddim",
            "test_threshold_fid_ddim",
            "<",
            "FID of DDIM samples (ddim_eval_steps, eta 0)",
            field="max_fid_ddim",
            uses=("ddim_step",),
        ),
        Threshold(
            "heldout_loss",
            "test_threshold_heldout_loss",
            "<",
            "held-out noise-prediction loss",
            field="max_heldout_loss",
            checkpoints=("ddpm",),
        ),
    ),
    measure=measure,
    seed_overrides=seed_overrides,
    dry_run={
        "steps": 3,
        "warmup": 1,
        "fid_samples": 32,
        "demo_samples": 16,
        "sample_batch": 32,
        "ddim_steps": (2,),
        "ddim_eval_steps": 2,
        "loss_eval_size": 64,
        "loss_eval_repeats": 1,
    },
    about=(
        "FID of `fid_samples` samples drawn from the shipped pretrained model with the run's own `p_sample` "
        "(T steps) and `ddim_step` (`ddim_eval_steps`, eta 0), digit features against the 16x16 validation "
        "split; held-out loss: mean squared eps error of `checkpoints/ddpm.pt` on `loss_eval_size` validation "
        "digits x `loss_eval_repeats` fixed (t, eps) draws; both by `autograder.assignments.diffusion.reference`, as the "
        "hidden tests compute them. Seed s trains with seed s and samples with sample_seed 1234 + s."
    ),
)
