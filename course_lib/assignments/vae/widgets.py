"""Latent-space widgets of 02_vae: interpolation between two images, and a latent traversal.

Plain-function cores (tests call them without a browser):

* :func:`interpolation_frame`: decode the code ``alpha`` of the way from one image's code to another's;
* :func:`traverse` / :func:`traversal_frame`: decode a code with one dimension set to a value;
* :func:`factor_correlation`: |correlation| between each latent dimension and each known factor
  (on the shapes data set it shows which dimension, if any, carries one factor alone).

The widgets (:func:`interpolation_widget`, :func:`traversal_widget`) only wire sliders to the cores
through :func:`course_lib.widgets.interactive_or_static`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from course_lib.viz import show_images

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from course_lib.nets.conv_vae import VAE, AutoEncoder


def _encode(model, x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 3:
        x = x.unsqueeze(0)  # (1, C, H, W)
    device = next(model.parameters()).device
    return model.encode(x.to(device))  # (B, D)


@torch.no_grad()
def interpolation_frame(model: AutoEncoder | VAE, x_a: torch.Tensor, x_b: torch.Tensor, alpha: float) -> torch.Tensor:
    """Decode the code ``alpha`` of the way from ``x_a``'s code to ``x_b``'s: (C, H, W) x 2 -> (C, H, W)."""
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    model.eval()
    z = torch.lerp(_encode(model, x_a), _encode(model, x_b), float(alpha))  # (1, D)
    return model.decoder(z)[0].cpu()  # (C, H, W)


@torch.no_grad()
def traverse(
    model: AutoEncoder | VAE, x: torch.Tensor, dim: int, values: Sequence[float] | torch.Tensor
) -> torch.Tensor:
    """Decode ``x``'s code with dimension ``dim`` replaced by each of ``values``: -> (K, C, H, W)."""
    model.eval()
    z = _encode(model, x)[0]  # (D,)
    if not 0 <= int(dim) < z.shape[0]:
        raise ValueError(f"dim must be in [0, {z.shape[0] - 1}], got {dim}")
    values = torch.as_tensor(values, dtype=z.dtype, device=z.device).view(-1)  # (K,)
    codes = z.expand(values.shape[0], -1).clone()  # (K, D)
    codes[:, int(dim)] = values
    return model.decoder(codes).cpu()  # (K, C, H, W)


def traversal_frame(model: AutoEncoder | VAE, x: torch.Tensor, dim: int, value: float) -> torch.Tensor:
    """One image of :func:`traverse`: (C, H, W)."""
    return traverse(model, x, dim, [float(value)])[0]


@torch.no_grad()
def factor_correlation(model: AutoEncoder | VAE, images: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """|Pearson correlation| between each latent dimension of the codes and each factor.

    Args:
        images: (N, C, H, W); factors: (N, F).

    Returns:
        (D, F) in [0, 1]; a dimension with one large entry in its row and small ones elsewhere is
        disentangled with respect to that factor.
    """
    if factors.dim() != 2 or factors.shape[0] != images.shape[0]:
        raise ValueError(f"factors must be (N, F) with N = {images.shape[0]}, got {tuple(factors.shape)}")
    model.eval()
    z = torch.cat(
        [_encode(model, images[i : i + 500]).cpu() for i in range(0, images.shape[0], 500)]
    ).double()  # (N, D)
    f = factors.double()
    z = (z - z.mean(0)) / z.std(0).clamp_min(1e-12)
    f = (f - f.mean(0)) / f.std(0).clamp_min(1e-12)
    return ((z.T @ f) / (z.shape[0] - 1)).abs()  # (D, F)


def interpolation_widget(model: AutoEncoder | VAE, x_a: torch.Tensor, x_b: torch.Tensor, *, steps: int = 20) -> None:
    """A slider over alpha in [0, 1] showing x_a, the decoded interpolation, and x_b."""
    import ipywidgets as w
    import matplotlib.pyplot as plt

    from course_lib.widgets import interactive_or_static

    def frame(alpha: float) -> Figure:
        images = torch.stack([x_a.cpu(), interpolation_frame(model, x_a, x_b, alpha), x_b.cpu()])  # (3, C, H, W)
        fig = show_images(images, nrow=3, title=f"x_a | decoded at alpha = {alpha:.2f} | x_b")
        plt.close(fig)
        return fig

    return interactive_or_static(frame, alpha=w.FloatSlider(value=0.5, min=0.0, max=1.0, step=1.0 / steps))


def traversal_widget(model: AutoEncoder | VAE, x: torch.Tensor, *, span: float = 3.0, dim: int = 0) -> None:
    """Pick a latent dimension and slide its value in [-span, span]; shows the strip and the image."""
    import ipywidgets as w
    import matplotlib.pyplot as plt

    from course_lib.widgets import interactive_or_static

    def frame(dim: int, value: float) -> Figure:
        strip = traverse(model, x, dim, torch.linspace(-span, span, 9))  # (9, C, H, W)
        images = torch.cat([strip, traversal_frame(model, x, dim, value).unsqueeze(0)])  # (10, C, H, W)
        fig = show_images(images, nrow=10, title=f"dimension {dim}: -{span:g} ... {span:g} | value {value:.2f}")
        plt.close(fig)
        return fig

    return interactive_or_static(
        frame,
        dim=w.IntSlider(value=dim, min=0, max=model.latent_dim - 1),
        value=w.FloatSlider(value=0.0, min=-span, max=span, step=span / 20),
    )
