"""course_lib.kernels: the fused colour kernel against torchvision (reference) and under Triton's
CPU interpreter (kernel)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch
import torchvision.transforms.v2.functional as TF

from course_lib.kernels.color import color_jitter, color_jitter_reference


def _batch(seed=0, b=6, h=9, w=7):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(b, 3, h, w, generator=g)
    bright = 0.6 + 0.8 * torch.rand(b, generator=g)
    contrast = 0.6 + 0.8 * torch.rand(b, generator=g)
    sat = 0.6 + 0.8 * torch.rand(b, generator=g)
    gray = torch.rand(b, generator=g) < 0.5
    return x, bright, contrast, sat, gray


def test_reference_matches_torchvision_image_by_image():
    x, bright, contrast, sat, gray = _batch()
    out = color_jitter_reference(x, bright, contrast, sat, gray)
    for i in range(x.shape[0]):
        y = TF.adjust_brightness(x[i], bright[i].item())
        y = TF.adjust_contrast(y, contrast[i].item())
        y = TF.adjust_saturation(y, sat[i].item())
        if gray[i]:
            y = TF.rgb_to_grayscale(y, num_output_channels=3)
        torch.testing.assert_close(out[i], y, atol=1e-6, rtol=1e-5)


def test_identity_factors_change_nothing():
    x, *_ = _batch()
    ones = torch.ones(x.shape[0])
    torch.testing.assert_close(color_jitter(x, ones, ones, ones, torch.zeros(x.shape[0], dtype=torch.bool)), x)


def test_bad_shapes_are_rejected():
    x, bright, contrast, sat, gray = _batch()
    with pytest.raises(ValueError, match=r"RGB images \(B, 3, H, W\)"):
        color_jitter(x[:, :1], bright, contrast, sat, gray)
    with pytest.raises(ValueError, match=r"factors must have shape \(6,\)"):
        color_jitter(x, bright[:3], contrast, sat, gray)
    with pytest.raises(ValueError, match="unknown backend 'cuda'"):
        color_jitter(x, bright, contrast, sat, gray, backend="cuda")


@pytest.mark.slow
def test_triton_kernel_matches_reference_under_the_interpreter():
    pytest.importorskip("triton")
    script = textwrap.dedent("""
        import torch
        from course_lib.kernels.color import color_jitter, color_jitter_reference
        for seed, (h, w) in enumerate([(9, 7), (32, 32), (40, 33)]):
            g = torch.Generator().manual_seed(seed)
            b = 5
            x = torch.rand(b, 3, h, w, generator=g)
            f = [0.5 + torch.rand(b, generator=g) for _ in range(3)]
            gray = torch.rand(b, generator=g) < 0.5
            ours = color_jitter(x, *f, gray, backend="triton")
            ref = color_jitter_reference(x, *f, gray)
            err = (ours - ref).abs().max().item()
            assert err < 1e-5, (h, w, err)
        print("ok")
    """)
    env = dict(os.environ, TRITON_INTERPRET="1")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
