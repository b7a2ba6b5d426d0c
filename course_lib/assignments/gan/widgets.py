"""Latent-space widgets of 01_gan: a walk between two samples, and latent versus pixel interpolation.

Plain-function cores (tests call them without a browser):

* :func:`decode_path`: the generator's images along a path of latent codes;
* :func:`pixel_path`: cross-fades ``(1 - a) x0 + a x1`` between two images;
* :func:`latent_grid`: the 10x10 grid of two latent coordinates (or directions) swept over [-span, span];
* :func:`principal_directions`: the latent directions in which the generator's image changes fastest;
* :func:`walk_frame` / :func:`compare_frame`: the figure for one slider position, from precomputed frames.

The widgets (:func:`walk_slider`, :func:`compare_slider`) only index frames computed once, so moving a
slider costs one small figure and no generator call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from course_lib.viz import show_images
from course_lib.widgets import interactive_or_static

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@torch.no_grad()
def decode_path(generator: torch.nn.Module, codes: torch.Tensor, *, batch_size: int = 500) -> torch.Tensor:
    """Images of the codes: (K, D) -> (K, C, H, W) on the CPU, clamped to [-1, 1]."""
    if codes.dim() != 2 or codes.shape[1] != generator.latent_dim:
        raise ValueError(f"codes must be (K, {generator.latent_dim}), got {tuple(codes.shape)}")
    generator.eval()
    device = next(generator.parameters()).device
    out = [
        generator(codes[i : i + batch_size].to(device)).float().clamp(-1, 1).cpu()
        for i in range(0, codes.shape[0], batch_size)
    ]
    return torch.cat(out)


def pixel_path(x0: torch.Tensor, x1: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
    """Pixel-space cross-fade: (C, H, W) x 2, (K,) -> (K, C, H, W) with frame k = (1 - a_k) x0 + a_k x1."""
    if x0.shape != x1.shape:
        raise ValueError(f"x0 and x1 must have the same shape, got {tuple(x0.shape)} and {tuple(x1.shape)}")
    a = torch.as_tensor(alphas, dtype=x0.dtype).view(-1, *([1] * x0.dim()))  # (K, 1, 1, 1)
    return (1 - a) * x0 + a * x1


def latent_grid(
    generator: torch.nn.Module,
    z: torch.Tensor,
    *,
    dims: tuple[int, int] = (0, 1),
    n: int = 10,
    span: float = 1.0,
    directions: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sweep two coordinates of ``z`` over ``linspace(-span, span, n)``, the rest of ``z`` fixed.

    The coordinates are ``z[dims[0]]`` (rows) and ``z[dims[1]]`` (columns), or with ``directions`` the
    components of ``z`` along two orthonormal directions: ``z`` loses its components ``z . u_0`` and
    ``z . u_1`` and gets ``v_r u_0 + v_c u_1`` instead (the standard basis vectors give ``dims``). Under the
    prior N(0, I) each such component is N(0, 1), so ``span = 2`` sweeps two standard deviations.

    Args:
        z: (D,) the code whose other coordinates stay fixed.
        directions: (2, D) orthonormal rows (see :func:`principal_directions`), or None for ``dims``.

    Returns:
        (n * n, C, H, W), row-major: image r * n + c has coordinate 0 = v_r and coordinate 1 = v_c.
    """
    if z.dim() != 1:
        raise ValueError(f"z must be (D,), got {tuple(z.shape)}")
    z = z.detach().cpu().float()
    if directions is None:
        if dims[0] == dims[1]:
            raise ValueError(f"dims must be two different coordinates, got {dims}")
        directions = torch.eye(z.shape[0])[list(dims)]  # (2, D)
    directions = directions.detach().cpu().float()
    if directions.shape != (2, z.shape[0]) or not torch.allclose(directions @ directions.T, torch.eye(2), atol=1e-4):
        raise ValueError(f"directions must be (2, {z.shape[0]}) with orthonormal rows, got {tuple(directions.shape)}")
    values = torch.linspace(-span, span, n)
    rows, cols = values.repeat_interleave(n), values.repeat(n)  # (n*n,) each
    base = z - (directions @ z) @ directions  # (D,) z without its components along the directions
    codes = base + rows[:, None] * directions[0] + cols[:, None] * directions[1]  # (n*n, D)
    return decode_path(generator, codes)


def principal_directions(generator: torch.nn.Module, z: torch.Tensor, k: int = 2) -> torch.Tensor:
    """The ``k`` latent directions in which ``G(z)`` changes fastest at ``z``: the top right singular vectors
    of the Jacobian dG(z)/dz (float64 SVD), each with the sign that makes its largest entry positive.

    Args:
        z: (D,) a code.

    Returns:
        (k, D) orthonormal rows, on the CPU.
    """
    generator.eval()
    device = next(generator.parameters()).device
    x = z.detach().to(device=device, dtype=torch.float32)
    jac = torch.autograd.functional.jacobian(lambda c: generator(c.unsqueeze(0)).flatten(), x)  # (C*H*W, D)
    _, _, vh = torch.linalg.svd(jac.double().cpu(), full_matrices=False)  # vh: (D, D), rows by singular value
    top = vh[:k]  # (k, D)
    signs = torch.sign(top.gather(1, top.abs().argmax(1, keepdim=True)))  # (k, 1)
    return (top * signs).float()


def _index(alpha: float, steps: int) -> int:
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    return int(round(float(alpha) * (steps - 1)))


def walk_frame(frames: torch.Tensor, alpha: float) -> Figure:
    """Figure: the first frame, the frame at ``alpha`` of the way, and the last frame."""
    import matplotlib.pyplot as plt

    k = _index(alpha, frames.shape[0])
    fig = show_images(
        torch.stack([frames[0], frames[k], frames[-1]]),
        nrow=3,
        title=f"G(z0) | G(z) at alpha = {k / (frames.shape[0] - 1):.2f} | G(z1)",
    )
    plt.close(fig)
    return fig


def compare_frame(latent_frames: torch.Tensor, pixel_frames: torch.Tensor, alpha: float) -> Figure:
    """Figure: the latent-space frame and the pixel-space frame at ``alpha``, side by side."""
    import matplotlib.pyplot as plt

    if latent_frames.shape != pixel_frames.shape:
        raise ValueError("latent and pixel frames must have the same shape")
    k = _index(alpha, latent_frames.shape[0])
    fig, axes = plt.subplots(1, 2, figsize=(6, 3.4))
    show_images(latent_frames[k : k + 1], nrow=1, title="latent: G((1-a) z0 + a z1)", ax=axes[0])
    show_images(pixel_frames[k : k + 1], nrow=1, title="pixels: (1-a) x0 + a x1", ax=axes[1])
    fig.suptitle(f"alpha = {k / (latent_frames.shape[0] - 1):.2f}")
    plt.close(fig)
    return fig


def walk_slider(frames: torch.Tensor, *, alpha: float = 0.5) -> None:
    """A slider over alpha in [0, 1] through precomputed frames (K, C, H, W) of a latent walk."""
    import ipywidgets as w

    steps = frames.shape[0]
    return interactive_or_static(
        lambda alpha: walk_frame(frames, alpha),
        alpha=w.FloatSlider(value=alpha, min=0.0, max=1.0, step=1.0 / (steps - 1), description="alpha"),
    )


def compare_slider(latent_frames: torch.Tensor, pixel_frames: torch.Tensor, *, alpha: float = 0.5) -> None:
    """A slider over alpha that shows the latent-space and the pixel-space interpolation side by side."""
    import ipywidgets as w

    steps = latent_frames.shape[0]
    return interactive_or_static(
        lambda alpha: compare_frame(latent_frames, pixel_frames, alpha),
        alpha=w.FloatSlider(value=alpha, min=0.0, max=1.0, step=1.0 / (steps - 1), description="alpha"),
    )
