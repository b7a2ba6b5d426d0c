"""Widgets of __NAME__: the fitted line over the held-out points, with sliders for slope and intercept."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import torch

from course_lib.assignments.__SHORT__.train import make_points
from course_lib.widgets import interactive_or_static

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from course_lib.assignments.__SHORT__.profile import Profile


def line_frame(slope: float, intercept: float, cfg: Profile) -> Figure:
    """The held-out points and the line y = slope x + intercept (a matplotlib Figure)."""
    x, y = make_points(cfg, "heldout")
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.scatter(x[:, 0], y[:, 0], s=8, alpha=0.6, label="held-out points")
    ax.plot([-1, 1], [intercept - slope, intercept + slope], color="C1", label=f"y = {slope:.2f} x + {intercept:.2f}")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend()
    fig.tight_layout()
    plt.close(fig)
    return fig


def line_widget(model: torch.nn.Linear, cfg: Profile) -> None:
    """Sliders for slope and intercept, starting at the trained line's."""
    import ipywidgets as w

    slope, intercept = float(model.weight.item()), float(model.bias.item())
    interactive_or_static(
        lambda slope, intercept: line_frame(slope, intercept, cfg),
        slope=w.FloatSlider(value=slope, min=-4, max=4, step=0.05, description="slope"),
        intercept=w.FloatSlider(value=intercept, min=-3, max=3, step=0.05, description="intercept"),
    )
