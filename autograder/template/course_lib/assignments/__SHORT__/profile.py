"""Profiles of __NAME__ (from the assignment template: fit a line to noisy points with the student's loss).

``full`` would hold the anchor course's data and settings (for a GPU); ``fast`` what CI and the grader run on
a CPU in seconds. The threshold is not graded (``math.inf``) until ``python -m autograder calibrate __NAME__``
has placed it (docs/calibration/__NAME__.json): copy the placed value here.
"""

from __future__ import annotations

import dataclasses
import math

from course_lib.profiles import register


@dataclasses.dataclass(frozen=True)
class Profile:
    """Settings and reference thresholds of __NAME__.

    Attributes:
        points: training points (x uniform in [-1, 1], y = slope x + intercept + noise).
        heldout: held-out points the threshold is measured on (drawn from their own fixed seed).
        steps, lr: full-batch gradient descent on the student's loss.
        noise: standard deviation of the noise on y.
        slope, intercept: the line the points come from.
        seed: seed of the training points and the initialisation.
        max_heldout_mse: threshold on the trained line's held-out mean squared error (math.inf: not graded).
    """

    points: int
    steps: int
    max_heldout_mse: float = math.inf
    heldout: int = 200
    lr: float = 0.1
    noise: float = 0.1
    slope: float = 2.0
    intercept: float = -1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.points < 2 or self.heldout < 1:
            raise ValueError(f"points must be >= 2 and heldout >= 1, got {self.points} and {self.heldout}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")

    def graded_checkpoints(self) -> tuple[str, ...]:
        """Runs whose ``checkpoints/<run>.pt`` the graded cells evaluate (a submission must carry them)."""
        return ("line",)


FULL = Profile(points=100_000, steps=500)
FAST = Profile(points=200, steps=200)

# smoke mode (COURSE_SMOKE=1, course_lib.profiles): the full profile with only lengths and sample counts shrunk
SMOKE = dict(points=64, steps=5)

register("__NAME__", full=FULL, fast=FAST, smoke=SMOKE, cost="seconds")
