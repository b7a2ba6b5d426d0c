"""01_gan's full-profile GPU estimate: training FLOPs of the four runs at an assumed sustained rate.

``python -m autograder.bench.gan`` counts the FLOPs of one generator iteration of :func:`train_gan` (the profile's
critic steps, with the reference gradient penalty for WGAN-GP and WGAN-LP, then one generator step) on synthetic
32x32 images, per image, for each architecture, and scales them to the full profile: iterations x batch x four
variants, divided by 25 TFLOP/s (the README's assumption). It is a lower bound: element-wise work, the FID
features (Inception on 10k samples every ``fid_every`` steps and 50k at the end) and data loading are left out.

:mod:`autograder.bench.full` cannot count these steps: ``FlopCounterMode`` tracks modules with hooks that refuse
``autograd.grad`` on a leaf (the penalty's interpolated images), so :class:`CountFlops` counts with the same
per-operator formulas (``torch.utils.flop_counter.flop_registry``: matmuls and convolutions, 2 FLOPs per
multiply-add, forward and both backward passes) without tracking modules.
"""

from __future__ import annotations

import argparse
import dataclasses

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

ASSUMED_RATE = 25e12  # FLOP/s sustained, as in README.md's Timing table


class CountFlops(TorchDispatchMode):
    """FLOPs of the operators run inside it (``flop_registry``'s formulas), in ``.total``."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func._overloadpacket in flop_registry:
            self.total += flop_registry[func._overloadpacket](*args, **kwargs, out_val=out)
        return out


def iteration_flops(cfg, variant: str, *, batch: int = 2) -> float:
    """FLOPs per image of one generator iteration of ``variant`` (its critic steps and one generator step)."""
    from autograder.assignments.gan import reference as ref
    from course_lib.assignments.gan.train import config_for, train_gan
    from course_lib.data import Dataset
    from course_lib.nets.gan import build_critic, build_generator

    images = torch.rand(4 * batch, cfg.channels, cfg.image_size, cfg.image_size) * 2 - 1  # (N, C, H, W)
    data = Dataset(images=images, labels=torch.zeros(len(images), dtype=torch.long), name="synthetic", split="train")
    config = dataclasses.replace(config_for(cfg, variant), iterations=1, batch_size=batch, fid_every=0, log_every=1)
    if variant in ("wgan_gp", "wgan_lp"):  # the one-sided penalty costs what the two-sided one does
        losses = dict(d_loss=ref.d_loss_wgan_gp, g_loss=ref.g_loss_wgan, gradient_penalty=ref.gradient_penalty)
    else:  # the losses' element-wise work is not counted: any loss of the scores costs the same
        losses = dict(d_loss=lambda r, f: f.mean() - r.mean(), g_loss=lambda f: -f.mean())
    torch.manual_seed(0)
    generator, critic = build_generator(cfg), build_critic(cfg)
    with CountFlops() as counter:
        train_gan(generator, critic, data=data, config=config, device="cpu", **losses)
    return counter.total / batch


def full_estimate(cfg, *, batch: int = 2) -> dict[str, float]:
    """GFLOP per image and iteration of each variant, and the four runs' minutes at ``ASSUMED_RATE``."""
    from course_lib.assignments.gan.profile import VARIANTS

    per = {v: iteration_flops(cfg.for_variant(v), v, batch=batch) for v in VARIANTS}
    total = sum(per[v] * cfg.generator_steps(v) * cfg.batch_size for v in VARIANTS)
    return {
        **{f"gflop_{v}": per[v] / 1e9 for v in VARIANTS},
        "pflop": total / 1e15,
        "minutes": total / ASSUMED_RATE / 60,
    }


def main(argv: list[str] | None = None) -> None:
    from course_lib.profiles import get_profile

    parser = argparse.ArgumentParser(prog="python -m autograder.bench.gan", description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=2, help="images per step counted (FLOPs scale with it)")
    parser.add_argument("--arch", nargs="*", default=["resnet", "dcgan"], help="architectures to estimate")
    args = parser.parse_args(argv)
    for arch in args.arch:
        r = full_estimate(get_profile("01_gan", "full", arch=arch), batch=args.batch)
        per = ", ".join(f"{k[6:]} {v:.2f}" for k, v in r.items() if k.startswith("gflop_"))
        print(
            f"{arch}: GFLOP per image per generator iteration: {per}; {r['pflop']:.1f} PFLOP in all, "
            f"{r['minutes']:.0f} min at {ASSUMED_RATE / 1e12:.0f} TFLOP/s"
        )


if __name__ == "__main__":
    main()
