"""Calibration spec of 02_vae: the validation reconstruction loss of each thresholded run, and the KL order."""
from __future__ import annotations

from autograder.reference import vae as ref

from . import Spec, Threshold, seed_only

ASSIGNMENT = "02_vae"
RUNS = {"beta08": ("vae_beta08", 0.8), "vae": ("vae_beta1", 1.0), "beta12": ("vae_beta12", 1.2),
        "linear": ("vae_linear", None)}


def measure(folder, cfg, functions=None) -> dict[str, float]:
    """What the hidden parts of the threshold cells compute, for the checkpoints under ``folder``."""
    ckpt = folder / "checkpoints"
    out = {"ae_recon": ref.evaluate_checkpoint(ckpt / f"ae_{cfg.vae_latent}.pt", "ae", cfg.vae_latent, cfg)["recon"]}
    kls = {}
    for key, (stem, beta) in RUNS.items():
        r = ref.evaluate_checkpoint(ckpt / f"{stem}.pt", "vae", cfg.vae_latent, cfg)
        out[f"{key}_recon"] = r["recon"]
        if beta is not None:
            kls[beta] = out[f"kl_beta{stem[8:]}"] = r["kl"]
    # test_threshold_kl_order passes when every consecutive difference along kl_order_betas is > 0
    betas = cfg.kl_order_betas
    out["kl_order_margin"] = min(kls[a] - kls[b] for a, b in zip(betas, betas[1:]))
    return out


def _recon(key: str, cell: str, field: str, stem: str, what: str) -> Threshold:
    return Threshold(f"{key}_recon", cell, "<", f"{what}: validation reconstruction loss", field=field,
                     checkpoints=(stem,))


SPEC = Spec(
    assignment=ASSIGNMENT,
    thresholds=(
        _recon("ae", "test_threshold_ae", "ae_recon_max", "ae_1024", "AE latent 1024"),
        _recon("vae", "test_threshold_vae", "vae_recon_max", "vae_beta1", "VAE beta 1"),
        _recon("beta08", "test_threshold_beta08", "beta08_recon_max", "vae_beta08", "VAE beta 0.8"),
        _recon("beta12", "test_threshold_beta12", "beta12_recon_max", "vae_beta12", "VAE beta 1.2"),
        _recon("linear", "test_threshold_linear", "linear_recon_max", "vae_linear", "VAE linear schedule"),
        Threshold("kl_order_margin", "test_threshold_kl_order", ">", "smallest KL difference along kl_order_betas",
                  fixed=0.0, checkpoints=("vae_beta08", "vae_beta1", "vae_beta12")),
    ),
    measure=measure,
    seed_overrides=seed_only,
    dry_run={"widths": (4, 4, 4, 4), "train_size": 64, "epochs": 2, "latent_sizes": (16,), "vae_latent": 16},
    check_fields=("kl_order_betas",),
    about=("Validation reconstruction loss (squared error summed over C, H, W, mean over the 1,000 mnist5k "
           "validation digits padded to 32x32) of each checkpoint, by `autograder.reference.vae.evaluate_checkpoint` "
           "as the hidden parts of the threshold cells compute it; the KL-order cell needs every consecutive "
           "difference of the validation KL along the profile's `kl_order_betas` to be positive."),
)
