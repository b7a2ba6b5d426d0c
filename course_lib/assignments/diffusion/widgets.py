"""Sampling-trajectory widget of 03_diffusion: x_t next to the model's prediction of x_0.

Plain-function cores (tests call them without a browser):

* :func:`ddpm_trajectory` runs the DDPM sampling loop once for a few images, keeps every x_t, and
  computes the predicted x_0 = (x_t - sqrt(1 - alpha-bar_t) eps_theta(x_t, t)) / sqrt(alpha-bar_t) for
  all of them in one batch (through the student's ``predict_start_from_noise``);
* :func:`trajectory_frame` draws one time step of that saved trajectory.

:func:`trajectory_slider` wires an IntSlider over t to :func:`trajectory_frame` through
:func:`course_lib.widgets.interactive_or_static`; moving it only redraws saved images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import torch

from course_lib.device import get_device
from course_lib.diffusion import DiffusionSchedule, sample_ddpm
from course_lib.viz import image_grid
from course_lib.widgets import interactive_or_static

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@torch.no_grad()
def ddpm_trajectory(
    model: torch.nn.Module,
    p_sample: Callable,
    predict_start_from_noise: Callable,
    schedule: DiffusionSchedule,
    shape: Sequence[int],
    *,
    generator: torch.Generator,
    device: torch.device | str | None = None,
    batch_size: int = 512,
) -> dict[str, torch.Tensor]:
    """A saved DDPM trajectory: ``{"t": (T,), "x_t": (T, B, C, H, W), "x0_hat": (T, B, C, H, W)}`` on the CPU,
    indexed by time step t = 0 .. T-1 (x0_hat clipped to [-1, 1]); ``"x_0"`` (B, C, H, W) is the final sample."""
    device = get_device(device)
    T = schedule.num_timesteps
    x_0, kept = sample_ddpm(
        model, p_sample, schedule, shape, generator=generator, device=device, record=range(T), show_progress=False
    )
    x_t = torch.stack([kept[t] for t in range(T)])  # (T, B, C, H, W)
    flat = x_t.flatten(0, 1)  # (T*B, C, H, W)
    ts = torch.arange(T).repeat_interleave(shape[0])  # (T*B,)
    sched = schedule.to(device)
    preds = []
    for i in range(0, flat.shape[0], batch_size):
        x, t = flat[i : i + batch_size].to(device), ts[i : i + batch_size].to(device)
        preds.append(predict_start_from_noise(x, t, model(x, t), sched).clamp(-1, 1).cpu())
    x0_hat = torch.cat(preds).view_as(x_t)  # (T, B, C, H, W)
    return {"t": torch.arange(T), "x_t": x_t, "x0_hat": x0_hat, "x_0": x_0.cpu()}


def trajectory_frame(traj: dict[str, torch.Tensor], t: int) -> Figure:
    """Figure with x_t (left) and the predicted x_0 (right) of every image at time step ``t``."""
    T = traj["x_t"].shape[0]
    if not 0 <= int(t) < T:
        raise ValueError(f"t must be in [0, {T - 1}], got {t}")
    n = traj["x_t"].shape[1]
    fig, axes = plt.subplots(1, 2, figsize=(9, 2.6))
    for ax, key, title in zip(axes, ("x_t", "x0_hat"), (f"x_t, t = {int(t)}", "predicted x_0")):
        ax.imshow(image_grid(traj[key][int(t)].clamp(-1, 1), nrow=min(n, 8)), interpolation="nearest")
        ax.set_title(title)
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def trajectory_slider(traj: dict[str, torch.Tensor], *, t: int | None = None) -> None:
    """An IntSlider over t = T-1 .. 0 that redraws :func:`trajectory_frame` (static frame without a front end)."""
    import ipywidgets as w

    T = traj["x_t"].shape[0]
    slider = w.IntSlider(
        value=T // 2 if t is None else int(t), min=0, max=T - 1, step=1, description="t", continuous_update=False
    )

    def frame(t: int) -> None:
        trajectory_frame(traj, t)
        plt.show()

    return interactive_or_static(frame, t=slider)
