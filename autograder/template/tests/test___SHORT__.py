"""__NAME__: the solution's functions and course_lib's pieces against independent references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import solution_functions
from sklearn.metrics import r2_score

from course_lib.assignments.__SHORT__.train import build_model, config_for, fit_line, make_points
from course_lib.profiles import get_profile

NAME = "__NAME__"


@pytest.fixture(scope="module")
def sol():
    return solution_functions(NAME)


def test_losses_and_score_equal_torch_and_scikit_learn(sol):
    g = torch.Generator().manual_seed(0)
    pred, target = 3 * torch.randn(7, 3, generator=g), torch.randn(7, 3, generator=g) + 2
    assert torch.allclose(sol.mse_loss(pred, target), torch.nn.functional.mse_loss(pred, target))
    for delta in (0.5, 2.0):
        assert torch.allclose(
            sol.huber_loss(pred, target, delta), torch.nn.functional.huber_loss(pred, target, delta=delta)
        )
    assert (
        abs(sol.r2_score(pred.flatten(), target.flatten()).item() - r2_score(target.flatten(), pred.flatten())) < 1e-5
    )


def test_fit_line_reaches_the_least_squares_line(sol):
    """Gradient descent with the solution's loss ends near numpy's closed-form least-squares fit."""
    cfg = get_profile(NAME, "fast", steps=2000)
    model = build_model(cfg)
    x, y = make_points(cfg, "train")
    fit_line(model, sol.mse_loss, x, y, config=config_for(cfg), device="cpu")
    slope, intercept = np.polyfit(x[:, 0].numpy(), y[:, 0].numpy(), 1)
    assert abs(model.weight.item() - slope) < 1e-3 and abs(model.bias.item() - intercept) < 1e-3
