"""How the importance-sampled log p(x) estimate moves with K, and a slider over K.

Plain-function core (tests call it without a browser):

* :func:`estimates_at_k`: ``repeats`` independent estimates of the batch-mean log p(x) with K samples;
* :func:`log_px_curve`: those estimates for a list of K values (mean and spread per K);
* :func:`k_frame`: the figure for one slider position (the curve up to K, its spread, the ELBO line,
  and the histogram of the estimates at K).

:func:`k_slider` wires a SelectionSlider over the curve's K values to :func:`k_frame`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import MaxNLocator

from course_lib.widgets import interactive_or_static

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Estimator = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
DEFAULT_KS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


@torch.no_grad()
def estimates_at_k(
    estimator: Estimator,
    model: torch.nn.Module,
    x: torch.Tensor,
    k: int,
    *,
    repeats: int = 5,
    generator: torch.Generator | None = None,
    chunk: int = 200_000,
) -> torch.Tensor:
    """``repeats`` estimates of the mean over the batch of log p(x), each with K fresh samples per digit.

    Args:
        estimator: ``importance_sampling_log_px(model, x, eps)`` with eps (B, K, D) -> (B,).
        x: (B, 1, 28, 28) digits.
        k: K >= 1.
        chunk: at most this many (digit, sample) pairs per call, to bound memory (B*K*P logits).

    Returns:
        (repeats,) float64 batch means.
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"K must be a positive int, got {k!r}")
    model.eval()
    device = next(model.parameters()).device
    per_call = max(1, chunk // k)
    out = torch.empty(repeats, dtype=torch.float64)
    for r in range(repeats):
        total = 0.0
        for start in range(0, x.shape[0], per_call):
            xb = x[start : start + per_call].to(device)
            eps = torch.randn(xb.shape[0], k, model.latent_dim, generator=generator).to(device)  # (B, K, D)
            total += estimator(model, xb, eps).double().sum().item()
        out[r] = total / x.shape[0]
    return out


def log_px_curve(
    estimator: Estimator,
    model: torch.nn.Module,
    x: torch.Tensor,
    ks: Sequence[int] = DEFAULT_KS,
    *,
    repeats: int = 5,
    seed: int = 0,
) -> dict[int, np.ndarray]:
    """K -> (repeats,) array of batch-mean estimates, for every K in ``ks``."""
    gen = torch.Generator().manual_seed(seed)
    return {int(k): estimates_at_k(estimator, model, x, int(k), repeats=repeats, generator=gen).numpy() for k in ks}


def k_frame(curve: dict[int, np.ndarray], k: int, *, elbo: float | None = None) -> Figure:
    """The figure for slider position K: mean +- std of the estimate against K (log axis), up to K."""
    if k not in curve:
        raise ValueError(f"K={k} was not computed; choose one of {sorted(curve)}")
    ks = np.array(sorted(curve))
    means = np.array([curve[i].mean() for i in ks])
    stds = np.array([curve[i].std() for i in ks])
    shown = ks <= k
    fig, (ax, hist) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [2, 1]})
    ax.plot(ks, means, color="0.8", marker="o", ms=3)
    ax.errorbar(ks[shown], means[shown], yerr=stds[shown], marker="o", capsize=3, label="IS estimate (mean +- std)")
    if elbo is not None:
        ax.axhline(elbo, color="C3", ls="--", label=f"ELBO {elbo:.2f}")
    ax.set_xscale("log")
    ax.set_xlabel("K (importance samples per digit)")
    ax.set_ylabel("log p(x) estimate (nats per digit)")
    ax.set_title(f"K = {k}: {curve[k].mean():.2f} +- {curve[k].std():.2f}")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    hist.hist(curve[k], bins=max(3, len(curve[k]) // 2), color="C0")
    hist.set_xlabel(f"estimates at K = {k} (nats per digit)")
    hist.set_ylabel("repeats")
    hist.yaxis.set_major_locator(MaxNLocator(integer=True))
    hist.set_title(f"{len(curve[k])} repeats")
    fig.tight_layout()
    return fig


def k_slider(curve: dict[int, np.ndarray], *, elbo: float | None = None, k: int | None = None) -> None:
    """A slider over the K values of ``curve`` that redraws :func:`k_frame` (static frame without a front end)."""
    import ipywidgets as w

    options = sorted(curve)
    slider = w.SelectionSlider(
        options=options, value=k if k in options else options[-1], description="K", continuous_update=False
    )

    def frame(k: int) -> None:
        k_frame(curve, k, elbo=elbo)
        plt.show()  # the inline backend draws the figure; the widget redraws it on each move

    return interactive_or_static(frame, k=slider)
