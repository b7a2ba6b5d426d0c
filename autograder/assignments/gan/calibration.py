"""Calibration spec of 01_gan: the FID of each variant's generator."""

from __future__ import annotations

from autograder.assignments.gan import reference as ref
from autograder.calibration import Spec, Threshold, seed_only
from course_lib.assignments.gan.profile import VARIANTS


def measure(folder, cfg, functions=None) -> dict[str, float]:
    """``autograder.assignments.gan.reference.evaluate_checkpoint`` of each variant (cfg.fid_samples samples, fixed seed; WGAN-LP
    against its own data set's held-out split, the same digits in the fast profile)."""
    return {f"fid_{v}": ref.evaluate_checkpoint(folder / "checkpoints" / f"{v}.pt", cfg)["fid"] for v in VARIANTS}


SPEC = Spec(
    assignment="01_gan",
    thresholds=tuple(
        Threshold(
            f"fid_{v}", f"test_threshold_{v}", "<", f"{v}: FID of the generator", field=f"max_fid_{v}", checkpoints=(v,)
        )
        for v in VARIANTS
    ),
    measure=measure,
    seed_overrides=seed_only,
    dry_run={
        "iterations": 4,
        "iterations_wgan": 2,
        "fid_every": 2,
        "fid_samples_train": 32,
        "fid_samples": 64,
        "width": 16,
        "batch_size": 16,
    },
    about=(
        "FID of `fid_samples` samples of each checkpoint's generator (z from the reference's own seed) with the "
        "offline digit features against the validation split, by `autograder.assignments.gan.reference.evaluate_checkpoint`, "
        "the evaluator of the hidden tests (lower is better). For scale: 1,000 real training digits score "
        "about 5, an untrained generator 1,040-1,200, uniform noise 1,340."
    ),
    notes=(
        "A loss mistake changes only the training of the variants that use it, so `g_saturating` retrains the "
        "non-saturating GAN, `critic_sign` WGAN-GP and WGAN-LP (both use `d_loss_wgan_gp`), `lp_two_sided` WGAN-LP, "
        "and each carries the solution's other checkpoints. The critic sign error is caught by "
        "`test_threshold_wgan_gp` and `test_threshold_wgan_lp` with margins of about 1,600. "
        "The saturating minimax generator loss trains "
        "the short MLP run as well as the non-saturating one (its runs lie inside the correct runs' spread: "
        "the discriminator never rejects fakes confidently enough for its gradient to vanish), so only "
        "`test_g_loss_nonsaturating` catches it, as the registry says. `interp_reversed` and `hard_coded` "
        "break the interpolation only; their trained runs equal the solution's seed for seed. `lp_two_sided` (the "
        "two-sided penalty handed in as the one-sided one) retrains WGAN-LP only, and that run is WGAN-GP itself "
        "(the same seed, settings and penalty), so its FID equals the solution's WGAN-GP FID of the same seed and "
        "threads and passes `test_threshold_wgan_lp`: only the unit tests with ||w|| < 1 catch it. WGAN-LP is the "
        "notebook's last run and seeds itself, so adding it changed none of the earlier runs: the calibration that "
        "added it (`--checkpoints-from`) gave each run the earlier calibration's checkpoints of the first three "
        "variants, trained WGAN-LP only, and measured every checkpoint again."
    ),
)
