"""Calibrate the fast profile's thresholds of 02_vae: solution seeds vs common mistakes.

Trains every thresholded run of the notebook (AE with latent ``vae_latent``; VAE with beta 0.8, 1,
1.2 and the linear schedule) with the reference loss functions under several seeds, and again with
common mistakes in the loss, evaluates each checkpoint as the hidden tests do
(:func:`autograder.reference.vae.evaluate`), and writes a table with the margins to
docs/calibration/02_vae.md. A threshold is well placed when it sits between the worst correct run
and the best broken one.

    PYTHONPATH=. OMP_NUM_THREADS=2 python -m autograder.calibrate_vae --seeds 0 1 2
    # re-render the table (e.g. after moving a threshold) from the raw results it saved:
    PYTHONPATH=. python -m autograder.calibrate_vae --render docs/calibration/02_vae.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from autograder.reference import vae as ref
from course_lib.device import seed_everything
from course_lib.nets.conv_vae import build_model
from course_lib.profiles import get_profile
from course_lib.train.vae import TrainConfig, load_images, train

OUT = Path(__file__).resolve().parent.parent / "docs" / "calibration" / "02_vae.md"


# --- common mistakes -------------------------------------------------------------------------------
def ae_loss_mean_pixels(model, x):
    loss = ((model.decoder(model.encoder(x)) - x) ** 2).mean()  # mean over all elements
    return loss, {"recon_loss": loss}


def vae_loss_mean_pixels(model, x, eps, beta=1.0):
    mu, log_std = model.encoder(x)
    x_hat = model.decoder(ref.reparameterize(mu, log_std, eps))
    recon = ((x_hat - x) ** 2).mean()  # mean over all elements instead of sum over C, H, W
    kl = ref.kl_to_standard_normal(mu, log_std).mean()
    return recon + beta * kl, {"recon_loss": recon, "kl_loss": kl}


def vae_loss_kl_sum_batch(model, x, eps, beta=1.0):
    mu, log_std = model.encoder(x)
    x_hat = model.decoder(ref.reparameterize(mu, log_std, eps))
    recon = ref.recon_loss(x_hat, x)
    kl = ref.kl_to_standard_normal(mu, log_std).sum()  # summed over the batch
    return recon + beta * kl, {"recon_loss": recon, "kl_loss": kl}


def vae_loss_logvar(model, x, eps, beta=1.0):
    mu, log_std = model.encoder(x)  # treated as log variance in both places
    x_hat = model.decoder(mu + torch.exp(0.5 * log_std) * eps)
    recon = ref.recon_loss(x_hat, x)
    kl = (0.5 * (mu ** 2 + torch.exp(log_std) - 1.0 - log_std).sum(1)).mean()
    return recon + beta * kl, {"recon_loss": recon, "kl_loss": kl}


VAE_MISTAKES = {
    "recon averaged over pixels": vae_loss_mean_pixels,
    "KL summed over the batch": vae_loss_kl_sum_batch,
    "log_std used as log-variance": vae_loss_logvar,
}


def runs(cfg):
    """(label, kind, beta schedule, threshold field) of each thresholded run."""
    return [
        ("AE latent %d" % cfg.vae_latent, "ae", None, "ae_recon_max"),
        ("VAE beta 0.8", "vae", ref.constant_beta_schedule(0.8), "beta08_recon_max"),
        ("VAE beta 1", "vae", ref.constant_beta_schedule(1.0), "vae_recon_max"),
        ("VAE beta 1.2", "vae", ref.constant_beta_schedule(1.2), "beta12_recon_max"),
        ("VAE linear to %g" % cfg.linear_target, "vae", ref.linear_beta_schedule(cfg.epochs, cfg.linear_target),
         "linear_recon_max"),
    ]


def train_and_eval(cfg, kind, loss_fn, schedule, seed, train_images, val_images):
    config = TrainConfig.from_profile(cfg, seed=seed)
    seed_everything(seed)
    model = build_model(kind, latent_dim=cfg.vae_latent, in_channels=cfg.in_channels, image_size=cfg.image_size,
                        widths=tuple(cfg.widths))
    train(model, loss_fn, train_images, val_images, config=config, beta_schedule=schedule, device="cpu")
    return ref.evaluate(model, val_images, seed=cfg.eval_seed)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--mistake-seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--render", type=Path, help="re-render the table from a saved results JSON; train nothing")
    args = parser.parse_args(argv)
    cfg = get_profile("02_vae", "fast")
    if args.render:
        saved = json.loads(args.render.read_text())
        rows = [(r["label"], r["field"], r["correct"], r["mistakes"]) for r in saved["rows"]]
        args.out.write_text(render(cfg, saved["seeds"], rows, saved["seconds"]))
        print(args.out.read_text())
        return
    train_images = load_images(cfg.dataset, "train", image_size=cfg.image_size, limit=cfg.train_size)
    val_images = load_images(cfg.dataset, "val", image_size=cfg.image_size)
    start = time.monotonic()
    rows = []
    for label, kind, schedule, field in runs(cfg):
        correct = []
        for seed in args.seeds:
            correct.append(train_and_eval(cfg, kind, ref.vae_loss if kind == "vae" else ref.ae_loss, schedule, seed,
                                          train_images, val_images))
            print(label, "seed", seed, correct[-1], flush=True)
        mistakes = {}
        candidates = {"recon averaged over pixels": ae_loss_mean_pixels} if kind == "ae" else VAE_MISTAKES
        for name, fn in candidates.items():
            mistakes[name] = train_and_eval(cfg, kind, fn, schedule, args.mistake_seed, train_images, val_images)
            print(label, name, mistakes[name], flush=True)
        rows.append((label, field, correct, mistakes))
    seconds = time.monotonic() - start
    text = render(cfg, args.seeds, rows, seconds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(
        {"seeds": args.seeds, "seconds": seconds,
         "rows": [{"label": label, "field": field, "correct": correct, "mistakes": mistakes}
                  for label, field, correct, mistakes in rows]}, indent=1) + "\n")
    args.out.write_text(text)
    print(text)


def render(cfg, seeds, rows, seconds) -> str:
    lines = [
        "# Calibration of 02_vae (fast profile)",
        "",
        "Written by `autograder/calibrate_vae.py`. Validation reconstruction loss (squared error summed over",
        "C, H, W, mean over the 1,000 mnist5k validation digits padded to 32x32) after the last epoch, evaluated",
        "as the hidden threshold tests do (`autograder.reference.vae.evaluate`, one posterior sample with a",
        f"fixed eps). Profile: widths {cfg.widths}, batch {cfg.batch_size}, {cfg.epochs} epochs on {cfg.train_size or 'all'} training digits, latent {cfg.vae_latent}.",
        f"Correct runs: reference losses with seeds {', '.join(map(str, seeds))}. Mistakes: one run each.",
        "",
        "| run | threshold | correct runs (recon / KL) | worst correct | margin below | mistake | recon / KL | margin above |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, field, correct, mistakes in rows:
        limit = getattr(cfg, field)
        worst = max(r["recon"] for r in correct)
        shown = ", ".join(f"{r['recon']:.1f} / {r['kl']:.1f}" for r in correct)
        first = True
        for name, r in mistakes.items():
            head = (f"| {label} | `{field}` < {limit:g} | {shown} | {worst:.1f} | {limit - worst:+.1f} |" if first
                    else "| | | | | |")
            lines.append(f"{head} {name} | {r['recon']:.1f} / {r['kl']:.1f} | {r['recon'] - limit:+.1f} |")
            first = False
    kls = {label: [r["kl"] for r in correct] for label, _f, correct, _m in rows if label.startswith("VAE beta")}
    lines += [
        "",
        "A negative margin above means the threshold cannot catch that mistake; those mistakes are caught by",
        "the unit-test cells only (Adam makes an AE nearly insensitive to the loss scale; the log-variance",
        "mix-up weakens the KL and so reconstructs better).",
        "",
        "Validation KL per seed (the KL-order cell checks the profile's `kl_order_betas`, "
        f"here {cfg.kl_order_betas}): " + "; ".join(f"{k}: {', '.join(f'{v:.2f}' for v in vs)}" for k, vs in kls.items()),
        "",
        f"Total time: {seconds:.0f} s on this machine (2 cores shared with other jobs, OMP_NUM_THREADS=1).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
