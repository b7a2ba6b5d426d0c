"""Train the digit classifier behind the offline FID and write course_lib/assets/digit_classifier.pt.

Deterministic on CPU (fixed seed, one thread, deterministic algorithms): the same command on the
same torch version reproduces the committed weights. The JSON sidecar next to the weights records
the mnist5k validation accuracy, the seed, the settings and the exact command.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python scripts/train_digit_classifier.py

Options: ``--epochs``, ``--seed``, ``--out`` (default course_lib/assets/digit_classifier.pt).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from course_lib.checkpoints import save_checkpoint
from course_lib.data import load
from course_lib.device import seed_everything
from course_lib.nets.digit_classifier import DigitClassifier, accuracy

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "course_lib" / "assets" / "digit_classifier.pt"


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    epochs: int = 15
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    max_shift: int = 2  # random translation of up to this many pixels (data augmentation)
    seed: int = 0


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image of (B, 1, H, W) by up to ``max_shift`` pixels (zero = background -1 padding)."""
    B, _, H, W = x.shape
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)  # (B, 1, H + 2s, W + 2s)
    dy = torch.randint(0, 2 * max_shift + 1, (B,), generator=generator)
    dx = torch.randint(0, 2 * max_shift + 1, (B,), generator=generator)
    out = torch.empty_like(x)
    for i in range(B):
        out[i] = padded[i, :, dy[i] : dy[i] + H, dx[i] : dx[i] + W]
    return out


def train(cfg: TrainConfig) -> tuple[DigitClassifier, dict]:
    """Train on mnist5k/train; return the model (eval mode) and a meta dict with the accuracies."""
    torch.use_deterministic_algorithms(True)
    gen = seed_everything(cfg.seed)
    train_set, val_set = load("mnist5k", "train"), load("mnist5k", "val")
    model = DigitClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    history = []
    start = time.time()
    for epoch in range(cfg.epochs):
        model.train()
        total = 0.0
        for x, y in train_set.loader(cfg.batch_size, generator=gen, with_labels=True):
            x = random_shift(x, cfg.max_shift, gen)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * x.shape[0]
        sched.step()
        val_acc = accuracy(model, val_set.images, val_set.labels)
        history.append({"epoch": epoch + 1, "train_loss": total / len(train_set), "val_accuracy": val_acc})
        print(
            f"epoch {epoch + 1:2d}  loss {total / len(train_set):.4f}  val acc {val_acc:.4f}  "
            f"({time.time() - start:.0f} s)",
            flush=True,
        )
    meta = {
        "train_accuracy": accuracy(model, train_set.images, train_set.labels),
        "val_accuracy": accuracy(model, val_set.images, val_set.labels),
        "data": "mnist5k (train 4,000 / val 1,000)",
        "config": dataclasses.asdict(cfg),
        "seed": cfg.seed,
        "history": history,
        "train_seconds": round(time.time() - start, 1),
        "features": "fc1 after ReLU, 128-d",
    }
    return model, meta


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cfg = TrainConfig(epochs=args.epochs, seed=args.seed)
    model, meta = train(cfg)
    command = "PYTHONPATH=$PWD OMP_NUM_THREADS=1 python scripts/train_digit_classifier.py"
    if args.epochs != TrainConfig.epochs or args.seed != TrainConfig.seed:
        command += f" --epochs {args.epochs} --seed {args.seed}"
    meta["command"] = command
    meta["argv"] = sys.argv[1:] if argv is None else argv
    save_checkpoint(args.out, {"model": model.state_dict()}, meta=meta)
    print(f"wrote {args.out} (val accuracy {meta['val_accuracy']:.4f}, train accuracy {meta['train_accuracy']:.4f})")


if __name__ == "__main__":
    main()
