"""Device selection, seeding and the mixed-precision context."""
from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

_VALID_DEVICES = ("cpu", "cuda")


def get_device(name: str | None = None) -> torch.device:
    """Return the device to compute on.

    Args:
        name: ``"cpu"`` or ``"cuda"`` (optionally ``"cuda:N"``). When omitted, the ``COURSE_DEVICE``
            environment variable decides, and without it CUDA is used when available.

    Returns:
        A ``torch.device``.
    """
    name = name or os.environ.get("COURSE_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    kind = name.split(":", 1)[0]
    if kind not in _VALID_DEVICES:
        raise ValueError(f"unknown device {name!r}; expected one of {', '.join(_VALID_DEVICES)}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {name!r} was asked for but CUDA is not available on this machine; "
            "unset COURSE_DEVICE or set it to 'cpu'"
        )
    return torch.device(name)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) and return a CPU generator seeded the same way."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def autocast(device: torch.device | str, enabled: bool | None = None):
    """Mixed-precision context: bf16 autocast on CUDA, a no-op on the CPU unless asked for.

    Log-likelihoods, KL terms, gradient-penalty norms and FID statistics must be computed outside
    this context (or cast to float32) by the caller.

    Args:
        device: the device the computation runs on.
        enabled: ``None`` means on for CUDA and off elsewhere.
    """
    device = torch.device(device)
    if enabled is None:
        enabled = device.type == "cuda"
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
