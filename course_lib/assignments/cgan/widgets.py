"""Widget of 07_cgan: fix a few latent codes z and slide the class y; the generator's images G(z, y) change class
while z keeps what the class does not decide (stroke width, slant, size).

Plain-function cores (tests call them without a browser): :func:`class_sweep` computes every class's images of the
same z once, :func:`class_frame` draws one class; the widget (:func:`class_slider`) only indexes the precomputed
frames, so moving the slider costs one small figure and no generator call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import torch

from course_lib.assignments.cgan.train import generate
from course_lib.viz import image_grid
from course_lib.widgets import interactive_or_static

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from course_lib.nets.cgan import ConditionalGenerator


@torch.no_grad()
def class_sweep(generator: ConditionalGenerator, generator_input_fn: Callable, z: torch.Tensor) -> torch.Tensor:
    """The images of the codes ``z`` (n, D) for every class: (K, n, C, H, W) on the CPU, clamped to [-1, 1]."""
    if z.dim() != 2 or z.shape[1] != generator.latent_dim:
        raise ValueError(f"z must be (n, {generator.latent_dim}), got {tuple(z.shape)}")
    generator.eval()
    device = next(generator.parameters()).device
    n, K = z.shape[0], generator.n_classes
    labels = torch.arange(K, device=device).repeat_interleave(n)  # (K * n,)
    images = generate(generator, z.to(device).repeat(K, 1), labels, generator_input_fn)  # (K * n, C, H, W)
    return images.float().clamp(-1, 1).cpu().view(K, n, *images.shape[1:])


def class_frame(frames: torch.Tensor, label: int, class_names: tuple[str, ...] | None = None) -> Figure:
    """One slider position: the n images of class ``label`` from :func:`class_sweep`'s ``frames`` (K, n, C, H, W)."""
    K = frames.shape[0]
    if not 0 <= int(label) < K:
        raise ValueError(f"label must be in [0, {K - 1}], got {label}")
    name = class_names[int(label)] if class_names else str(int(label))
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * frames.shape[1], 1.6))
    ax.imshow(image_grid(frames[int(label)], nrow=frames.shape[1]), interpolation="nearest")
    ax.set_title(f"class {name}: the same z in every column")
    ax.set_axis_off()
    fig.tight_layout()
    plt.close(fig)
    return fig


def class_slider(
    generator: ConditionalGenerator,
    generator_input_fn: Callable,
    z: torch.Tensor,
    class_names: tuple[str, ...] | None = None,
) -> None:
    """A class slider over the images of fixed codes ``z`` (n, D)."""
    import ipywidgets as w

    frames = class_sweep(generator, generator_input_fn, z)
    interactive_or_static(
        lambda label: class_frame(frames, label, class_names),
        label=w.IntSlider(value=0, min=0, max=frames.shape[0] - 1, description="class"),
    )
