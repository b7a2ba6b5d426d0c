"""Widget of 06_vqvae: pick a codebook size and a code index; see the run's reconstructions, how often each code
is used on held-out images (the chosen one highlighted, the dead ones counted), and what the chosen code decodes to
when it fills the whole code map.

Plain-function cores (tests call them without a browser): :func:`code_usage` and :func:`codebook_frame`; the widget
(:func:`codebook_widget`) only wires sliders to them through :func:`course_lib.widgets.interactive_or_static`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import torch

from course_lib.assignments.vqvae.train import reconstruct
from course_lib.nets.vqvae import VQVAE
from course_lib.viz import image_grid
from course_lib.widgets import interactive_or_static

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@torch.no_grad()
def code_usage(model: VQVAE, images: torch.Tensor, quantize_fn: Callable) -> torch.Tensor:
    """How often each code is chosen over every position of ``images``: (K,) int64 on the CPU."""
    device = model.codebook.device
    counts = torch.zeros(model.codebook_size, dtype=torch.int64)
    for batch in images.split(256):
        indices = reconstruct(model, batch.to(device), quantize_fn)[3]  # (B h w,)
        counts += torch.bincount(indices.reshape(-1).cpu(), minlength=model.codebook_size)  # (K,)
    return counts


@torch.no_grad()
def codebook_frame(
    model: VQVAE, images: torch.Tensor, quantize_fn: Callable, code: int, usage: torch.Tensor | None = None
) -> Figure:
    """One frame: originals over reconstructions, the code usage (``code`` in red), and ``code`` decoded everywhere.

    Args:
        model: a trained VQ-VAE.
        images: (n, C, H, W) held-out images in [-1, 1] (a few, e.g. 8).
        quantize_fn: the student's ``quantize``.
        code: a code index in [0, K).
        usage: :func:`code_usage` of the model on held-out images (on ``images`` when None).

    Returns:
        A matplotlib Figure.
    """
    k = model.codebook_size
    if not 0 <= int(code) < k:
        raise ValueError(f"code must be in [0, {k - 1}], got {code}")
    device = model.codebook.device
    usage = code_usage(model, images, quantize_fn) if usage is None else usage
    x = images.to(device)
    x_hat = reconstruct(model, x, quantize_fn)[0]
    h = model.encode(x[:1]).shape[-1]
    z = model.codebook[int(code)].view(1, -1, 1, 1).expand(1, -1, h, h)  # (1, D, h, h)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2), gridspec_kw={"width_ratios": [2.2, 2.2, 1]})
    axes[0].imshow(image_grid(torch.cat([x, x_hat]).cpu(), nrow=x.shape[0]), interpolation="nearest")
    axes[0].set_title(f"K = {k}: held-out images (top), reconstructions (bottom)")
    colors = ["C3" if i == int(code) else "C0" for i in range(k)]
    axes[1].bar(range(k), usage.numpy(), color=colors, width=1.0)
    axes[1].set_title(f"code usage: {int((usage == 0).sum())} of {k} codes unused; code {code}: {int(usage[code])}")
    axes[1].set_xlabel("code index")
    axes[2].imshow(image_grid(model.decode(z).cpu(), nrow=1), interpolation="nearest")
    axes[2].set_title(f"code {code} everywhere")
    for ax in (axes[0], axes[2]):
        ax.axis("off")
    fig.tight_layout()
    plt.close(fig)
    return fig


def codebook_widget(
    models: Mapping[int, VQVAE], images: torch.Tensor, quantize_fn: Callable, usage_images: torch.Tensor
) -> None:
    """Sliders for the codebook size and the code index (clipped to K - 1): ``images`` (a few held-out ones) shown,
    the usage counted on ``usage_images``."""
    import ipywidgets as w

    usage = {k: code_usage(m, usage_images, quantize_fn) for k, m in models.items()}
    sizes = sorted(models)

    def frame(k: int, code: int) -> Figure:
        return codebook_frame(models[k], images, quantize_fn, min(int(code), k - 1), usage[k])

    interactive_or_static(
        frame,
        k=w.SelectionSlider(options=sizes, value=sizes[-1], description="K"),
        code=w.IntSlider(value=0, min=0, max=max(sizes) - 1, description="code"),
    )
