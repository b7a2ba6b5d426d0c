"""Reference evaluators of __NAME__ (instructors only; the hidden parts of the graded cells call them).

:func:`evaluate_checkpoint` loads the submitted ``checkpoints/line.pt`` and measures its held-out mean squared
error with course_lib's harness and this module's reference loss: never a number the notebook printed.
"""

from __future__ import annotations

import os
from pathlib import Path

from course_lib.assignments.__SHORT__.train import heldout_mse, load_line
from course_lib.profiles import get_profile

ASSIGNMENT = "__NAME__"


def mse_loss(pred, target):
    """Mean over every element of (pred - target)^2."""
    return ((pred - target) ** 2).mean()


def evaluate_checkpoint(path: str | os.PathLike, cfg) -> dict[str, float]:
    """``{"heldout_mse": ...}`` of the line saved at ``path`` under profile ``cfg``."""
    path = Path(path)
    if not path.exists():
        raise AssertionError(f"no checkpoint at {path}: run the training cell (it saves the model there)")
    return {"heldout_mse": heldout_mse(load_line(path, cfg), cfg, mse_loss)}


def check_mse_threshold(path: str | os.PathLike = "checkpoints/line.pt") -> float:
    """Assert the held-out MSE of the trained line is below the profile's threshold; returns it."""
    cfg = get_profile(ASSIGNMENT)
    value = evaluate_checkpoint(path, cfg)["heldout_mse"]
    assert value == value and value < cfg.max_heldout_mse, (
        f"held-out mean squared error {value:.4f} is not below {cfg.max_heldout_mse}: check that mse_loss averages "
        "over every element, then retrain"
    )
    return value
