"""Calibrate the fast-profile thresholds of 03_diffusion.

Two kinds of runs, each scored by the reference evaluators the hidden threshold tests use:

* **sampling** (FID, digit features): the shipped pretrained model sampled with the solution's
  ``p_sample`` (T steps) and ``ddim_step`` (``ddim_eval_steps``, eta 0) under several sampling seeds, and
  with common mistakes (noise added at t = 0, the posterior variance used as a standard deviation, DDIM's
  t_prev = -1 wrapping to the last alpha-bar);
* **training** (held-out noise-prediction loss): the fast training run with the solution's ``ddpm_loss``
  under several seeds, and with ``q_sample`` missing its square roots.

It writes docs/calibration/03_diffusion.md (table, worst correct run, best broken run, margins) and the
measured rows to docs/calibration/03_diffusion.json; ``--reuse`` rewrites the table from them.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python -m autograder.calibrate_diffusion [--seeds 0 1] [--sample-seeds 1234 1]
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import time
from pathlib import Path

import torch

from autograder import REPO, SOLUTIONS
from autograder.notebooks import load_functions
from autograder.reference import diffusion as ref
from course_lib.diffusion import extract, load_resized
from course_lib.profiles import get_profile
from course_lib.train.diffusion import TrainConfig, train_diffusion

NAME = "03_diffusion"
OUT = REPO / "docs" / "calibration" / f"{NAME}.md"


def mistakes(sol) -> dict:
    """name -> (kind, description, function) for each common mistake."""

    def p_noise_t0(model, x_t, t, noise, schedule, clip_x0=True):
        x0 = sol.predict_start_from_noise(x_t, t, model(x_t, t), schedule)
        x0 = x0.clamp(-1, 1) if clip_x0 else x0
        mean, _, logvar = sol.q_posterior(x0, x_t, t, schedule)
        return mean + torch.exp(0.5 * logvar) * noise  # the mistake: noise at t = 0 too

    def p_var_as_std(model, x_t, t, noise, schedule, clip_x0=True):
        x0 = sol.predict_start_from_noise(x_t, t, model(x_t, t), schedule)
        x0 = x0.clamp(-1, 1) if clip_x0 else x0
        mean, var, _ = sol.q_posterior(x0, x_t, t, schedule)
        return mean + (t != 0).float().view(-1, 1, 1, 1) * var * noise  # the mistake: variance as std

    def ddim_wrap(model, x_t, t, t_prev, noise, schedule, eta, clip_x0=True):
        eps = model(x_t, t)
        x0 = sol.predict_start_from_noise(x_t, t, eps, schedule)
        x0 = x0.clamp(-1, 1) if clip_x0 else x0
        ab_t = extract(schedule.alphas_cumprod, t, x_t.shape)
        ab_prev = schedule.alphas_cumprod[t_prev].view(-1, 1, 1, 1)  # the mistake: -1 wraps to the last entry
        sigma = eta * torch.sqrt((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev))
        return ab_prev.sqrt() * x0 + (1 - ab_prev - sigma ** 2).clamp(min=0).sqrt() * eps + sigma * noise

    def q_no_sqrt_loss(model, x_start, t, noise, schedule):
        ab = extract(schedule.alphas_cumprod, t, x_start.shape)
        x_t = ab * x_start + (1 - ab) * noise  # the mistake: alpha-bar instead of its square root
        return ((model(x_t, t) - noise) ** 2).mean()

    return {
        "p_noise_t0": ("ddpm", "p_sample adds noise at t = 0 too", p_noise_t0),
        "p_var_as_std": ("ddpm", "p_sample scales the noise by the posterior variance instead of its square root", p_var_as_std),
        "ddim_wrap": ("ddim", "ddim_step reads alpha-bar[t_prev] with t_prev = -1 (the last entry) at the final step", ddim_wrap),
        "q_no_sqrt": ("loss", "q_sample without the square roots (alpha-bar x_0 + (1 - alpha-bar) eps), trained with it", q_no_sqrt_loss),
    }


def fid_run(kind: str, fn, cfg, model, seed: int) -> dict:
    start = time.monotonic()
    value = ref.fid(ref.generate(kind, fn, model, cfg, seed=seed), cfg)
    return {"value": value, "seconds": time.monotonic() - start}


def loss_run(loss_fn, cfg, seed: int) -> dict:
    torch.manual_seed(seed)
    model = ref.build_model(cfg)
    schedule = ref.reference_schedule(cfg)
    config = TrainConfig(steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, warmup=cfg.warmup,
                         ema_decay=cfg.ema_decay, log_every=max(1, cfg.steps // 30), seed=seed)
    start = time.monotonic()
    train_diffusion(model, loss_fn, load_resized(cfg.dataset, cfg.train_split, cfg.image_size), schedule, config=config)
    seconds = time.monotonic() - start
    return {"value": ref.heldout_loss(model, cfg), "seconds": seconds}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="training seeds of the loss runs")
    parser.add_argument("--sample-seeds", type=int, nargs="+", default=None,
                        help="sampling seeds (default: the profile's sample_seed and 1)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--reuse", action="store_true", help="rewrite the table from the .json rows, run nothing")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cfg = get_profile(NAME, "fast")
    rows_path = args.out.with_suffix(".json")
    if args.reuse:
        write_table(json.loads(rows_path.read_text()), cfg, args.out)
        print("rewrote", args.out)
        return
    sol = load_functions(SOLUTIONS / NAME / f"{NAME}.ipynb")
    broken = mistakes(sol)
    model = ref.load_model(ref.pretrained_path(cfg), cfg)
    sample_seeds = args.sample_seeds or [cfg.sample_seed, 1]
    rows = []

    def add(kind, run, desc, res):
        rows.append({"kind": kind, "run": run, "what": desc, **res})
        print(rows[-1], flush=True)

    for seed in sample_seeds:
        add("ddpm", "correct", f"solution p_sample, sampling seed {seed}", fid_run("ddpm", sol.p_sample, cfg, model, seed))
        add("ddim", "correct", f"solution ddim_step, sampling seed {seed}", fid_run("ddim", sol.ddim_step, cfg, model, seed))
    for name, (kind, desc, fn) in broken.items():
        if kind in ("ddpm", "ddim"):
            add(kind, name, desc + f", sampling seed {sample_seeds[0]}", fid_run(kind, fn, cfg, model, sample_seeds[0]))
    for seed in args.seeds:
        add("loss", "correct", f"solution ddpm_loss, training seed {seed}", loss_run(sol.ddpm_loss, cfg, seed))
    for name, (kind, desc, fn) in broken.items():
        if kind == "loss":
            add(kind, name, desc + f", training seed {args.seeds[0]}", loss_run(fn, cfg, args.seeds[0]))
    rows_path.parent.mkdir(parents=True, exist_ok=True)
    rows_path.write_text(json.dumps(rows, indent=1) + "\n")
    write_table(rows, cfg, args.out)
    print("wrote", args.out)


def write_table(rows, cfg, out: Path) -> None:
    lines = [
        f"# Calibration of the fast profile of {NAME}",
        "",
        f"Written by `autograder/calibrate_diffusion.py` on {datetime.date.today().isoformat()} (CPU, 1 thread; the "
        "machine was shared, so times are indicative).",
        f"Profile: {cfg.dataset} at {cfg.image_size}x{cfg.image_size}, {cfg.schedule} schedule with T = {cfg.timesteps}, "
        f"U-Net base {cfg.base} x {cfg.mults}. FID: {cfg.fid_samples} samples from the pretrained "
        f"`course_lib/assets/{cfg.pretrained}`, digit-classifier features, against the `{cfg.eval_split}` split "
        f"resized to {cfg.image_size}x{cfg.image_size} (`autograder.reference.diffusion.fid`); DDIM with "
        f"{cfg.ddim_eval_steps} steps, eta 0. Loss: the training question's run ({cfg.steps} steps, batch "
        f"{cfg.batch_size}, Adam {cfg.lr}), scored by `autograder.reference.diffusion.heldout_loss` "
        f"({cfg.loss_eval_size} `{cfg.eval_split}` digits x {cfg.loss_eval_repeats} draws of (t, eps)).",
        "",
        "| check | run | what | value | seconds |",
        "|---|---|---|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['kind']} | {r['run']} | {r['what']} | {r['value']:.4g} | {r['seconds']:.0f} |")
    lines.append("")
    for kind, label, threshold in (("ddpm", "DDPM FID", cfg.max_fid_ddpm), ("ddim", "DDIM FID", cfg.max_fid_ddim),
                                   ("loss", "held-out loss", cfg.max_heldout_loss)):
        ok = [r["value"] for r in rows if r["kind"] == kind and r["run"] == "correct"]
        bad = [(r["run"], r["value"]) for r in rows if r["kind"] == kind and r["run"] != "correct"]
        if not ok:
            continue
        worst_ok = max(ok)
        caught = [v for _, v in bad if not v < threshold]
        missed = [(k, v) for k, v in bad if v < threshold]
        best_bad = min(caught, default=math.inf)
        lines.append(
            f"- **{label} < {threshold}**: worst correct run {worst_ok:.4g} (margin {threshold - worst_ok:+.4g}); "
            f"best broken run it rejects {best_bad:.4g} (margin {best_bad - threshold:+.4g})"
            + (f"; NOT rejected: {', '.join(f'{k} ({v:.4g})' for k, v in missed)}" if missed else "") + ".")
    lines += [
        "",
        "Every mistake above also fails a specific unit-level hidden test (test_p_sample, test_ddim_step /",
        "test_ddim_eta_one, test_q_sample / test_ddpm_loss); the threshold cells are the second line of defence.",
        "`p_noise_t0` adds noise of standard deviation sqrt(posterior_variance[1]) (about 0.02 for this schedule) to",
        "the final samples: invisible to the digit-feature FID, so only test_p_sample catches it, as it should.",
        "For scale: 256 real training digits at 16x16 score an FID of 7.3 against the same validation statistics, and",
        "256 images of clamped Gaussian noise 483. The DDIM FID varies more with the sampling seed (20 to 30) than the",
        "DDPM FID does; its threshold leaves room for that.",
        "",
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
