"""Calibration spec of 02_vae: the validation reconstruction loss of each thresholded run, and the KL order."""

from __future__ import annotations

from autograder.assignments.vae import reference as ref
from autograder.calibration import Spec, Threshold, seed_only

ASSIGNMENT = "02_vae"
RUNS = {
    "beta08": ("vae_beta08", 0.8),
    "vae": ("vae_beta1", 1.0),
    "beta12": ("vae_beta12", 1.2),
    "linear": ("vae_linear", None),
}


def measure(folder, cfg, functions=None) -> dict[str, float]:
    """What the hidden parts of the threshold cells compute, for the checkpoints under ``folder``."""
    ckpt = folder / "checkpoints"
    out = {"ae_recon": ref.evaluate_checkpoint(ckpt / f"ae_{cfg.vae_latent}.pt", cfg)["recon"]}
    kls = {}
    for key, (stem, beta) in RUNS.items():
        r = ref.evaluate_checkpoint(ckpt / f"{stem}.pt", cfg)
        out[f"{key}_recon"] = r["recon"]
        if beta is not None:
            kls[beta] = out[f"kl_beta{stem[8:]}"] = r["kl"]
    # test_threshold_kl_order passes when every consecutive difference along kl_order_betas is > 0
    betas = cfg.kl_order_betas
    out["kl_order_margin"] = min(kls[a] - kls[b] for a, b in zip(betas, betas[1:]))
    return out


def _recon(key: str, cell: str, field: str, stem: str, what: str) -> Threshold:
    return Threshold(
        f"{key}_recon", cell, "<", f"{what}: validation reconstruction loss", field=field, checkpoints=(stem,)
    )


SPEC = Spec(
    assignment=ASSIGNMENT,
    thresholds=(
        _recon("ae", "test_threshold_ae", "ae_recon_max", "ae_1024", "AE latent 1024"),
        _recon("vae", "test_threshold_vae", "vae_recon_max", "vae_beta1", "VAE beta 1"),
        _recon("beta08", "test_threshold_beta08", "beta08_recon_max", "vae_beta08", "VAE beta 0.8"),
        _recon("beta12", "test_threshold_beta12", "beta12_recon_max", "vae_beta12", "VAE beta 1.2"),
        _recon("linear", "test_threshold_linear", "linear_recon_max", "vae_linear", "VAE linear schedule"),
        Threshold(
            "kl_order_margin",
            "test_threshold_kl_order",
            ">",
            "smallest KL difference along kl_order_betas",
            fixed=0.0,
            checkpoints=("vae_beta08", "vae_beta1", "vae_beta12"),
        ),
    ),
    measure=measure,
    seed_overrides=seed_only,
    dry_run={"widths": (4, 4, 4, 4), "train_size": 64, "epochs": 2, "latent_sizes": (16,), "vae_latent": 16},
    check_fields=("kl_order_betas",),
    about=(
        "Validation reconstruction loss (squared error summed over C, H, W, mean over the 1,000 mnist5k "
        "validation digits padded to 32x32) of each checkpoint, by `autograder.assignments.vae.reference.evaluate_checkpoint` "
        "as the hidden parts of the threshold cells compute it; the KL-order cell needs every consecutive "
        "difference of the validation KL along the profile's `kl_order_betas` to be positive."
    ),
    notes=(
        "**Before this calibration** the fast profile trained every run for 4 epochs on 2,000 digits (250 Adam "
        "steps), and five correct runs of the notebook (seeds 0-4, one thread) gave validation reconstruction "
        "losses of 158-207 (AE; mean 185, sd 18), 170-203 (VAE beta 1), 172-213 (beta 0.8), 169-211 (beta 1.2) "
        "and 191-230 (linear schedule): the nets sat next to the mean image's 209. Against the thresholds of the "
        "time (205 / 200 / 200 / 200 / 210) the predictive false-reject probabilities were 19%, 26%, 26%, 23% "
        "and 47%, and seed 1 or 2 failed four of the five cells (issue 14's 214.7 on the linear run is one of "
        "them); a posterior collapsed by a KL summed over the batch ends at 217-219, so no threshold separated "
        "it from correct runs. Changing the measurement could not help (the spread is the training's, not the "
        "evaluation's: 1,000 validation digits), so the training changed: all 4,000 training digits for 6 epochs "
        "(750 steps; the notebook takes about 4 minutes here). These runs are the table above.\n\n"
        "`mean_pixels` (an AE loss averaged over all elements: Adam is nearly scale-invariant) and `logvar` (a "
        "weaker KL, which reconstructs better) train models as good as the solution's, so they carry the "
        "solution's checkpoints and only their unit cells catch them, as the registry says; `hard_coded` "
        "(a linear beta schedule that fits the visible test only) changes the linear run's training, which "
        "stays within the threshold."
    ),
)
