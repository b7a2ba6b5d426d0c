"""The Triton kernel behind course_lib.kernels.color.color_jitter (imported only when it runs)."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .color import LUMA


@triton.jit
def _color_kernel(
    x_ptr,
    out_ptr,
    bright_ptr,
    contrast_ptr,
    sat_ptr,
    gray_ptr,
    hw,
    L0: tl.constexpr,
    L1: tl.constexpr,
    L2: tl.constexpr,
    BLOCK: tl.constexpr,
):
    b = tl.program_id(0)  # one program per image
    base = b * 3 * hw
    bright = tl.load(bright_ptr + b)
    contrast = tl.load(contrast_ptr + b)
    sat = tl.load(sat_ptr + b)
    gray = tl.load(gray_ptr + b)
    # pass 1: mean luma of the brightness-adjusted image (what adjust_contrast blends towards)
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for start in range(0, hw, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        m = offs < hw
        r = tl.minimum(tl.maximum(tl.load(x_ptr + base + offs, mask=m, other=0.0) * bright, 0.0), 1.0)
        g = tl.minimum(tl.maximum(tl.load(x_ptr + base + hw + offs, mask=m, other=0.0) * bright, 0.0), 1.0)
        bl = tl.minimum(tl.maximum(tl.load(x_ptr + base + 2 * hw + offs, mask=m, other=0.0) * bright, 0.0), 1.0)
        acc += tl.where(m, L0 * r + L1 * g + L2 * bl, 0.0)
    mean = tl.sum(acc, axis=0) / hw
    # pass 2: brightness, contrast, saturation, grayscale; one write
    for start in range(0, hw, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        m = offs < hw
        r = tl.minimum(tl.maximum(tl.load(x_ptr + base + offs, mask=m, other=0.0) * bright, 0.0), 1.0)
        g = tl.minimum(tl.maximum(tl.load(x_ptr + base + hw + offs, mask=m, other=0.0) * bright, 0.0), 1.0)
        bl = tl.minimum(tl.maximum(tl.load(x_ptr + base + 2 * hw + offs, mask=m, other=0.0) * bright, 0.0), 1.0)
        r = tl.minimum(tl.maximum(contrast * r + (1.0 - contrast) * mean, 0.0), 1.0)
        g = tl.minimum(tl.maximum(contrast * g + (1.0 - contrast) * mean, 0.0), 1.0)
        bl = tl.minimum(tl.maximum(contrast * bl + (1.0 - contrast) * mean, 0.0), 1.0)
        lum = L0 * r + L1 * g + L2 * bl
        r = tl.minimum(tl.maximum(sat * r + (1.0 - sat) * lum, 0.0), 1.0)
        g = tl.minimum(tl.maximum(sat * g + (1.0 - sat) * lum, 0.0), 1.0)
        bl = tl.minimum(tl.maximum(sat * bl + (1.0 - sat) * lum, 0.0), 1.0)
        lum = L0 * r + L1 * g + L2 * bl
        r = tl.where(gray != 0, lum, r)
        g = tl.where(gray != 0, lum, g)
        bl = tl.where(gray != 0, lum, bl)
        tl.store(out_ptr + base + offs, r, mask=m)
        tl.store(out_ptr + base + hw + offs, g, mask=m)
        tl.store(out_ptr + base + 2 * hw + offs, bl, mask=m)


def fused_color_jitter(
    x: torch.Tensor,
    brightness: torch.Tensor,
    contrast: torch.Tensor,
    saturation: torch.Tensor,
    grayscale: torch.Tensor,
    block: int = 1024,
) -> torch.Tensor:
    """Launch the kernel: (B, 3, H, W) float32 in [0, 1] and (B,) factors -> (B, 3, H, W)."""
    x = x.contiguous().float()
    out = torch.empty_like(x)
    hw = x.shape[2] * x.shape[3]
    f32 = dict(device=x.device, dtype=torch.float32)
    _color_kernel[(x.shape[0],)](
        x,
        out,
        brightness.to(**f32).contiguous(),
        contrast.to(**f32).contiguous(),
        saturation.to(**f32).contiguous(),
        grayscale.to(device=x.device, dtype=torch.int32).contiguous(),
        hw,
        L0=LUMA[0],
        L1=LUMA[1],
        L2=LUMA[2],
        BLOCK=min(block, triton.next_power_of_2(hw)),
    )
    return out
