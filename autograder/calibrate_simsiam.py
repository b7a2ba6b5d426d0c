"""Calibrate the fast-profile thresholds of 04_simsiam.

Trains the fast profile with the reference functions for several seeds (the correct runs) and the
two collapse ablations (no stop-gradient; identity predictor), plus the asymmetric loss (a common
mistake that the paper shows still trains, Table 4), evaluates each model with the reference kNN
classifier and output std on the held-out split, and writes docs/calibration/04_simsiam.md with the
thresholds halfway between the worst correct run and the best collapsed one.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python -m autograder.calibrate_simsiam --workers 2
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "calibration" / "04_simsiam.md"

# name -> (stop_gradient, predictor, symmetric loss, counts as correct)
RUNS = {
    "solution": (True, "mlp", True, True),
    "no stop-gradient": (False, "mlp", True, False),
    "identity predictor": (True, "identity", True, False),
    "asymmetric loss (informative)": (True, "mlp", False, None),
}


def _asymmetric_loss(p1, p2, z1, z2, stop_gradient=True):
    from autograder.reference.simsiam import negative_cosine_similarity

    return negative_cosine_similarity(p1, z2, stop_gradient)


def run_one(job: tuple[str, int]) -> dict:
    """Train one (run, seed) of the fast profile and evaluate it on the held-out split."""
    torch.set_num_threads(1)
    from autograder.reference import simsiam as ref
    from course_lib.nets.simsiam import SimSiamNet
    from course_lib.profiles import get_profile
    from course_lib.train.simsiam import train_profile

    name, seed = job
    stop_gradient, predictor, symmetric, _ = RUNS[name]
    cfg = get_profile("04_simsiam", "fast")
    torch.manual_seed(seed)
    model = SimSiamNet(cfg.net_config(predictor=predictor))
    start = time.monotonic()
    hist = train_profile(model, cfg, forward=ref.simsiam_forward,
                         loss_fn=ref.simsiam_loss if symmetric else _asymmetric_loss,
                         output_std=ref.output_std, stop_gradient=stop_gradient, seed=seed)
    seconds = time.monotonic() - start
    metrics = ref.evaluate(model, profile="fast")
    baseline = ref.random_init_accuracy(profile="fast", seed=seed)
    return {"run": name, "seed": seed, "seconds": seconds, "final_loss": hist["loss"][-1],
            "knn": metrics["knn_accuracy"], "baseline": baseline, "gain": metrics["knn_accuracy"] - baseline,
            "std": metrics["output_std"]}


def thresholds(rows: list[dict]) -> dict:
    """Midpoints between the worst correct run and the best broken run, with the margins."""
    good = [r for r in rows if RUNS[r["run"]][3] is True]
    bad = [r for r in rows if RUNS[r["run"]][3] is False]
    out = {}
    for key, higher_is_good in (("knn", True), ("gain", True), ("std", True)):
        worst_good = min(r[key] for r in good)
        best_bad = max(r[key] for r in bad)
        out[key] = {"worst_correct": worst_good, "best_broken": best_bad,
                    "threshold": (worst_good + best_bad) / 2, "margin": (worst_good - best_bad) / 2}
    return out


def write_table(rows: list[dict], th: dict, path: Path = OUT) -> str:
    from course_lib.profiles import get_profile

    cfg = get_profile("04_simsiam", "fast")
    lines = [
        "# Calibration of 04_simsiam (fast profile)",
        "",
        "Written by `autograder/calibrate_simsiam.py` (`PYTHONPATH=$PWD OMP_NUM_THREADS=1 python -m "
        "autograder.calibrate_simsiam`). Each row trains the fast profile "
        f"({cfg.dataset} at {cfg.image_size}x{cfg.image_size}, {cfg.backbone} backbone width {cfg.width}, "
        f"batch {cfg.batch_size}, {cfg.epochs} epochs, lr {cfg.lr:g}) and evaluates the model with the reference "
        f"kNN classifier (k = {cfg.knn_k}, t = {cfg.knn_t}, train split as bank) and output std on the "
        f"`{cfg.heldout_split}` split. `gain` = kNN accuracy minus that of the random-init backbone built with "
        "the same seed. Seconds are wall-clock on the shared 2-core machine (other jobs running).",
        "",
        "| run | seed | final loss | kNN acc | random-init kNN | gain | output std | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['run']} | {r['seed']} | {r['final_loss']:.3f} | {r['knn']:.3f} | {r['baseline']:.3f} | "
                     f"{r['gain']:+.3f} | {r['std']:.4f} | {r['seconds']:.0f} |")
    lines += ["", "Correct runs: `solution`. Broken runs: `no stop-gradient`, `identity predictor`. "
              "The asymmetric loss is shown for information only (the paper's Table 4: it trains, a little worse).",
              "", "| signal | worst correct | best broken | midpoint | margin (each side) |", "|---|---|---|---|---|"]
    for key, label in (("knn", "kNN accuracy"), ("gain", "kNN gain over random init"), ("std", "output std")):
        t = th[key]
        lines.append(f"| {label} | {t['worst_correct']:.4f} | {t['best_broken']:.4f} | {t['threshold']:.4f} | "
                     f"{t['margin']:.4f} |")
    lines += ["", "The profile's thresholds (course_lib/profiles/simsiam.py, FAST) are rounded from these midpoints: "
              f"kNN accuracy >= {cfg.min_knn_accuracy}, gain over the seed-0 random-init backbone >= {cfg.min_knn_gain}, "
              f"output std of the stop-gradient run >= {cfg.min_healthy_std}, output std of each ablation <= "
              f"{cfg.max_collapsed_std}.", ""]
    text = "\n".join(lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the solution run")
    parser.add_argument("--broken-seeds", type=int, default=2, help="seeds of each ablation")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    jobs = [("solution", s) for s in range(args.seeds)]
    jobs += [(name, s) for name in ("no stop-gradient", "identity predictor") for s in range(args.broken_seeds)]
    jobs += [("asymmetric loss (informative)", 0)]
    if args.workers > 1:
        with mp.get_context("spawn").Pool(args.workers) as pool:
            rows = pool.map(run_one, jobs, chunksize=1)
    else:
        rows = [run_one(j) for j in jobs]
    print(write_table(rows, thresholds(rows), args.out))


if __name__ == "__main__":
    main()
