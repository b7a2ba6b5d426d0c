"""The one data-range convention: models see [-1, 1]; these helpers convert to and from it."""

from __future__ import annotations

import torch


def to_model_range(x01: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1]."""
    return x01 * 2.0 - 1.0


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1], clamped (model outputs may overshoot)."""
    return ((x + 1.0) / 2.0).clamp(0.0, 1.0)


def from_uint8(x: torch.Tensor) -> torch.Tensor:
    """uint8 in [0, 255] -> float32 in [-1, 1]."""
    return x.to(torch.float32) / 127.5 - 1.0


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> uint8 in [0, 255], rounded (the quantisation FID protocols expect)."""
    return (to_unit(x) * 255.0).round().to(torch.uint8)
