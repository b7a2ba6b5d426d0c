"""Fused per-sample colour jitter (brightness, contrast, saturation) and grayscale, in one pass.

The SimSiam views need, per image, ``adjust_brightness -> adjust_contrast -> adjust_saturation``
and an optional grayscale, each with its own random factor. Written the common way that is about a
dozen element-wise passes over the batch plus a reduction; the Triton kernel reads each image
twice (once for the mean luma that contrast needs, once to write the result) and writes it once.

* :func:`color_jitter_reference`: pure torch, the semantics (torchvision's, on [0, 1] images).
* :func:`color_jitter`: picks the Triton kernel on CUDA when Triton is importable, else the reference.
  Under ``TRITON_INTERPRET=1`` the kernel also runs on CPU tensors, which is how the tests check it.

The fixed order brightness, contrast, saturation (then grayscale) is one of the orders torchvision's
``ColorJitter`` draws at random; hue is not part of this pass.
"""

from __future__ import annotations

import os

import torch

# ITU-R 601-2 luma, as torchvision's rgb_to_grayscale
LUMA = (0.2989, 0.587, 0.114)


def _check(x: torch.Tensor, *factors: torch.Tensor) -> None:
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"color_jitter expects RGB images (B, 3, H, W) in [0, 1], got {tuple(x.shape)}")
    for f in factors:
        if f.shape != (x.shape[0],):
            raise ValueError(f"per-sample factors must have shape ({x.shape[0]},), got {tuple(f.shape)}")


def _luma(x: torch.Tensor) -> torch.Tensor:
    return (LUMA[0] * x[:, 0] + LUMA[1] * x[:, 1] + LUMA[2] * x[:, 2]).unsqueeze(1)  # (B, 1, H, W)


def color_jitter_reference(
    x: torch.Tensor, brightness: torch.Tensor, contrast: torch.Tensor, saturation: torch.Tensor, grayscale: torch.Tensor
) -> torch.Tensor:
    """Per-sample brightness, contrast, saturation, then grayscale where ``grayscale`` is True.

    Args:
        x: (B, 3, H, W) float in [0, 1].
        brightness, contrast, saturation: (B,) non-negative factors (1 = unchanged).
        grayscale: (B,) bool.

    Returns:
        (B, 3, H, W) in [0, 1].
    """
    _check(x, brightness, contrast, saturation, grayscale)
    b = brightness.view(-1, 1, 1, 1).to(x.dtype)
    c = contrast.view(-1, 1, 1, 1).to(x.dtype)
    s = saturation.view(-1, 1, 1, 1).to(x.dtype)
    x = (x * b).clamp(0, 1)
    mean = _luma(x).mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    x = (c * x + (1 - c) * mean).clamp(0, 1)
    x = (s * x + (1 - s) * _luma(x)).clamp(0, 1)
    gray = _luma(x).expand(-1, 3, -1, -1)  # (B, 3, H, W)
    return torch.where(grayscale.view(-1, 1, 1, 1), gray, x)


def triton_available() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def color_jitter(
    x: torch.Tensor,
    brightness: torch.Tensor,
    contrast: torch.Tensor,
    saturation: torch.Tensor,
    grayscale: torch.Tensor,
    *,
    backend: str = "auto",
) -> torch.Tensor:
    """:func:`color_jitter_reference`'s result, from the fused Triton kernel where it can run.

    Args:
        backend: ``"auto"`` (Triton on CUDA, or anywhere under TRITON_INTERPRET=1; else torch),
            ``"triton"`` or ``"torch"``.
    """
    if backend not in ("auto", "triton", "torch"):
        raise ValueError(f"unknown backend {backend!r}; expected 'auto', 'triton' or 'torch'")
    interpret = os.environ.get("TRITON_INTERPRET") == "1"
    use_triton = backend == "triton" or (backend == "auto" and triton_available() and (x.is_cuda or interpret))
    if not use_triton:
        return color_jitter_reference(x, brightness, contrast, saturation, grayscale)
    _check(x, brightness, contrast, saturation, grayscale)
    from ._color_triton import fused_color_jitter

    return fused_color_jitter(x, brightness, contrast, saturation, grayscale)
