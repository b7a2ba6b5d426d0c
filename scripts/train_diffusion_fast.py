"""Pretrain the fast-profile diffusion model of 03_diffusion and write course_lib/assets/diffusion_fast.pt.

The sampling questions of the notebook use this model, so they run without training. Architecture,
image size and schedule come from the fast profile (course_lib/assignments/diffusion/profile.py); the loss and
schedule are the instructors' reference implementation (autograder/assignments/diffusion/reference.py). On one CPU
thread it takes about a quarter of an hour. The JSON sidecar records the settings, the loss history,
the wall time and the exact command.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python scripts/train_diffusion_fast.py

Options: ``--steps``, ``--seed``, ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch

from autograder.assignments.diffusion import reference as ref
from course_lib.assignments.diffusion.train import TrainConfig, train_diffusion
from course_lib.checkpoints import save_checkpoint
from course_lib.device import seed_everything
from course_lib.diffusion import load_resized
from course_lib.profiles import get_profile

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "course_lib" / "assets" / "diffusion_fast.pt"
DEFAULTS = dict(steps=3500, batch_size=128, lr=1e-3, warmup=100, ema_decay=0.995, log_every=100, seed=0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=DEFAULTS["steps"])
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cfg = get_profile("03_diffusion", "fast")
    config = TrainConfig(**{**DEFAULTS, "steps": args.steps, "seed": args.seed})
    seed_everything(config.seed)
    train_set = load_resized(cfg.dataset, cfg.train_split, cfg.image_size)
    model = ref.build_model(cfg)
    schedule = ref.reference_schedule(cfg)
    start = time.time()
    history = train_diffusion(
        model,
        ref.ddpm_loss,
        train_set,
        schedule,
        config=config,
        device="cpu",
        callback=lambda s, h: print(
            f"step {s:5d}  loss {h['loss'][-1]:.4f}  ({time.time() - start:.0f} s)", flush=True
        ),
    )
    command = "PYTHONPATH=$PWD OMP_NUM_THREADS=1 python scripts/train_diffusion_fast.py"
    if args.steps != DEFAULTS["steps"] or args.seed != DEFAULTS["seed"]:
        command += f" --steps {args.steps} --seed {args.seed}"
    meta = {
        "profile": "fast",
        "data": f"{cfg.dataset}/{cfg.train_split} resized to {cfg.image_size}x{cfg.image_size}",
        "model": {
            "class": "course_lib.nets.unet.UNet",
            "in_channels": cfg.channels,
            "base": cfg.base,
            "mults": list(cfg.mults),
            "attention": cfg.attention,
        },
        "schedule": {"name": cfg.schedule, "timesteps": cfg.timesteps},
        "config": dataclasses.asdict(config),
        "history": history,
        "train_seconds": round(time.time() - start, 1),
        "threads": torch.get_num_threads(),
        "command": command,
        "argv": sys.argv[1:] if argv is None else argv,
        "note": "weights are the EMA of the training weights",
    }
    save_checkpoint(args.out, {"model": model.state_dict()}, meta=meta)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB, {meta['train_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
