"""Full-profile time per epoch: predicted from FLOPs (course_lib.flops) against measured, per assignment.

One training step of each full-profile model (02 conv VAE, 03 DDPM U-Net, 04 SimSiam ResNet-18) on
synthetic inputs of the full-profile shape (CIFAR-10, 3x32x32), with the reference loss functions the
hidden tests use. ``predicted`` = FLOPs of one step x steps per epoch / the measured float32 matmul rate;
``measured`` = the mean of a few timed steps x steps per epoch. On CUDA the batch is the profile's; on
the CPU (``python -m autograder.bench --full-prediction``) a smaller ``batch`` keeps it to minutes, and
the epoch is then ``ceil(N / batch)`` steps of that batch (same images per epoch).

Not modelled: data loading and augmentation (synthetic batches already on the device), the bf16
autocast of the SimSiam loop on CUDA (all steps here run in float32), 01_gan (its critic steps
differentiate twice through the gradient penalty; left out for time).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from course_lib.flops import matmul_flops_per_second, predict_epoch
from course_lib.profiles import get_profile

CIFAR10_TRAIN = 50_000


def _vae_step(batch: int, device: torch.device) -> Callable[[], None]:
    from autograder.assignments.vae.reference import vae_loss
    from course_lib.nets.conv_vae import build_model

    cfg = get_profile("02_vae", "full")
    model = build_model(
        "vae",
        latent_dim=cfg.vae_latent,
        in_channels=cfg.in_channels,
        image_size=cfg.image_size,
        widths=tuple(cfg.widths),
    ).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    x = torch.rand(batch, cfg.in_channels, cfg.image_size, cfg.image_size, device=device) * 2 - 1  # (B, C, H, W)
    eps = torch.randn(batch, cfg.vae_latent, device=device)  # (B, D)

    def step():
        loss, _ = vae_loss(model, x, eps, 1.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()

    return step


def _diffusion_step(batch: int, device: torch.device) -> Callable[[], None]:
    from autograder.assignments.diffusion.reference import build_model, ddpm_loss, reference_schedule

    cfg = get_profile("03_diffusion", "full")
    model = build_model(cfg).to(device)
    schedule = reference_schedule(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    x = torch.rand(batch, cfg.channels, cfg.image_size, cfg.image_size, device=device) * 2 - 1  # (B, C, H, W)
    t = torch.randint(0, cfg.timesteps, (batch,), device=device)  # (B,)
    noise = torch.randn_like(x)

    def step():
        loss = ddpm_loss(model, x, t, noise, schedule)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    return step


def _simsiam_step(batch: int, device: torch.device) -> Callable[[], None]:
    from autograder.assignments.simsiam.reference import simsiam_forward, simsiam_loss
    from course_lib.nets.simsiam import SimSiamNet

    cfg = get_profile("04_simsiam", "full")
    model = SimSiamNet(cfg.net_config()).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    x1, x2 = (
        torch.rand(batch, cfg.in_channels, cfg.image_size, cfg.image_size, device=device) * 2 - 1 for _ in range(2)
    )  # (B, C, H, W) each

    def step():
        loss = simsiam_loss(*simsiam_forward(model, x1, x2))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


# name: (assignment, step builder, drop_last of its loop)
STEPS: dict[str, tuple[str, Callable[[int, torch.device], Callable[[], None]], bool]] = {
    "02 conv VAE": ("02_vae", _vae_step, False),
    "03 DDPM U-Net": ("03_diffusion", _diffusion_step, True),
    "04 SimSiam ResNet-18": ("04_simsiam", _simsiam_step, True),
}


def full_prediction(device: torch.device, *, batch: int | None = None, timed_steps: int = 3) -> list[dict[str, object]]:
    """One row per full-profile model: FLOPs per step, predicted and measured seconds per epoch.

    Args:
        batch: images per step (default: each profile's batch size; pass a small one on the CPU).
        timed_steps: steps timed after one warm-up step.
    """
    rate = matmul_flops_per_second(device)
    rows = []
    for name, (assignment, build, drop_last) in STEPS.items():
        torch.manual_seed(0)
        b = batch or get_profile(assignment, "full").batch_size
        step = build(b, device)
        steps = CIFAR10_TRAIN // b if drop_last else math.ceil(CIFAR10_TRAIN / b)
        r = predict_epoch(step, steps_per_epoch=steps, device=device, rate=rate, timed_steps=timed_steps)
        rows.append(
            {"model (full profile)": name, "batch": b, "steps/epoch": steps, **r, "matmul TFLOP/s": rate / 1e12}
        )
    return rows


def format_prediction(rows: list[dict[str, object]]) -> str:
    cols = [
        "model (full profile)",
        "batch",
        "steps/epoch",
        "gflop_per_step",
        "predicted_s",
        "measured_s",
        "measured_over_predicted",
        "matmul TFLOP/s",
    ]
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)
