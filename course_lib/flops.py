"""Predicted against measured training time: FLOPs of one step divided by a measured matmul rate.

``step_flops(step)`` counts the floating-point operations of one call of ``step`` (forward, backward,
optimiser) with ``torch.utils.flop_counter.FlopCounterMode``, which counts matmuls, convolutions and
attention at 2 FLOPs per multiply-add and ignores element-wise ops. ``matmul_flops_per_second``
measures the rate a square float32 matmul reaches on the device. Their quotient is the time the step
would take if it ran at matmul speed: a lower bound that memory-bound element-wise work, kernel launch
and Python overhead push the measured time above (``measured / predicted`` says how far).

Everything here is device-agnostic: the same code runs on the CPU (small shapes, for tests and
``python -m autograder.bench --full-prediction``) and on CUDA (the full-profile table).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_flops(step: Callable[[], object]) -> int:
    """FLOPs of one call of ``step`` (2 per multiply-add of matmuls and convolutions, forward and backward)."""
    with FlopCounterMode(display=False) as counter:
        step()
    return int(counter.get_total_flops())


def matmul_flops_per_second(
    device: torch.device | str, *, n: int = 2048, repeats: int = 5, dtype: torch.dtype = torch.float32
) -> float:
    """Best rate of an (n, n) @ (n, n) matmul on ``device``: 2 n^3 FLOPs over the best of ``repeats`` runs."""
    device = torch.device(device)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
    b = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
    a @ b  # warm-up (BLAS / cuBLAS handles)
    _sync(device)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def seconds_per_step(
    step: Callable[[], object], device: torch.device | str, *, steps: int = 3, warmup: int = 1
) -> float:
    """Mean wall time of ``steps`` calls of ``step`` after ``warmup`` calls (synchronising CUDA)."""
    device = torch.device(device)
    for _ in range(warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return (time.perf_counter() - start) / steps


def predict_epoch(
    step: Callable[[], object],
    *,
    steps_per_epoch: int,
    device: torch.device | str,
    rate: float | None = None,
    timed_steps: int = 3,
) -> dict[str, float]:
    """Predicted and measured seconds per epoch of ``steps_per_epoch`` calls of ``step``.

    Args:
        step: one training step (forward, backward, optimiser step) on inputs already on ``device``.
        steps_per_epoch: optimiser steps in one epoch.
        rate: FLOP/s to divide by (default: :func:`matmul_flops_per_second` on ``device``).
        timed_steps: steps timed (after one warm-up step) for the measured time.

    Returns:
        ``{"gflop_per_step", "predicted_s", "measured_s", "measured_over_predicted"}`` (times per epoch).
    """
    rate = rate or matmul_flops_per_second(device)
    flops = step_flops(step)
    measured = seconds_per_step(step, device, steps=timed_steps) * steps_per_epoch
    predicted = flops * steps_per_epoch / rate
    return {
        "gflop_per_step": flops / 1e9,
        "predicted_s": predicted,
        "measured_s": measured,
        "measured_over_predicted": measured / predicted,
    }
