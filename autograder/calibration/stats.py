"""Where a threshold goes, and how likely it is to reject a correct run.

The correct runs x_1..x_n of a threshold are modelled as draws of a normal distribution with unknown
mean and standard deviation. Two estimates of the probability that a new correct run fails:

* ``normal``: the plug-in estimate 1 - Phi((t - mean) / sd), treating the sample mean and sd as exact;
* ``predictive``: the probability under the predictive distribution of one new run, which accounts for
  estimating both from n runs: (x_new - mean) / (sd sqrt(1 + 1/n)) follows Student's t with n - 1
  degrees of freedom. Its (1 - p) quantile, mean + t_{n-1, 1-p} sd sqrt(1 + 1/n), is the one-sided
  prediction bound; a new correct run lies beyond it with probability p (Hahn & Meeker, Statistical
  Intervals, 1991, sec. 4.3). The thresholds are placed, and judged, with this one.

Placement (:func:`place`): the bound for p = 0.1% on the failing side, rounded away from the correct runs
to three significant digits (kept unrounded if the rounding would cross the best run of a mistake the
threshold catches). That is the tightest threshold with the required false-reject probability, so it
rejects as much as it can of everything else: the registered mistakes whose every run lies beyond it
(:func:`catchable`), and also untrained models and mistakes nobody registered. A registered mistake whose
runs do not all lie beyond it cannot be caught by that threshold; the registry must say so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats as _st

P_TARGET = 1e-3  # the largest acceptable false-reject probability of a correct run


def fit(values: Sequence[float]) -> tuple[int, float, float]:
    """(n, mean, sample standard deviation with ddof 1) of the finite ``values`` (sd nan for n < 2)."""
    xs = [float(v) for v in values]
    n = len(xs)
    mean = sum(xs) / n if n else math.nan
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else math.nan
    return n, mean, sd


def prediction_factor(n: int, p: float = P_TARGET) -> float:
    """t_{n-1, 1-p} sqrt(1 + 1/n): prediction bound = mean + factor x sd (one-sided, level 1 - p)."""
    if n < 2:
        return math.nan
    return float(_st.t.ppf(1 - p, n - 1)) * math.sqrt(1 + 1 / n)


def bound(values: Sequence[float], upper: bool, p: float = P_TARGET) -> float:
    """The one-sided prediction bound of the correct runs on their failing side (above them when
    ``upper``, i.e. lower values are better; below them otherwise)."""
    n, mean, sd = fit(values)
    k = prediction_factor(n, p)
    return mean + k * sd if upper else mean - k * sd


def false_reject(values: Sequence[float], threshold: float, upper: bool) -> dict[str, float]:
    """``{"normal": ..., "predictive": ...}``: probability that a new correct run lands on the failing
    side of ``threshold`` (see the module docstring). nan with fewer than 2 runs."""
    n, mean, sd = fit(values)
    if n < 2 or any(v != v or math.isinf(v) for v in values):
        return {"normal": math.nan, "predictive": math.nan}
    distance = (threshold - mean) if upper else (mean - threshold)  # > 0: threshold on the failing side
    if sd == 0:
        p = 0.0 if distance > 0 else 1.0
        return {"normal": p, "predictive": p}
    z = distance / sd
    return {"normal": float(_st.norm.sf(z)), "predictive": float(_st.t.sf(z / math.sqrt(1 + 1 / n), n - 1))}


def round_away(value: float, upper: bool, digits: int = 3) -> float:
    """``value`` rounded to ``digits`` significant digits, up when ``upper`` else down."""
    if value == 0 or not math.isfinite(value):
        return value
    exponent = math.floor(math.log10(abs(value))) - (digits - 1)
    scaled = value / 10**exponent
    scaled = math.ceil(scaled - 1e-9) if upper else math.floor(scaled + 1e-9)
    return float(round(scaled * 10**exponent, max(0, -exponent)))


def beyond(value: float, limit: float, upper: bool) -> bool:
    """Whether ``value`` lies strictly on the failing side of ``limit`` (nan, a run whose measurement
    raised, fails every threshold, as the hidden tests' ``value == value and ...`` does)."""
    if value != value:
        return True
    return value > limit if upper else value < limit


def place(correct: Sequence[float], catch: Sequence[float], upper: bool, p: float = P_TARGET) -> dict:
    """The threshold for the correct runs ``correct``; ``catch`` are the runs of the mistakes it is meant to
    catch that all lie beyond the bound (see :func:`catchable`), reported and kept on the failing side.

    Returns:
        ``{"threshold", "bound", "best_mistake", "rule"}``; threshold nan with fewer than 2 correct runs.
    """
    b = bound(correct, upper, p)
    if b != b:
        return {"threshold": math.nan, "bound": b, "best_mistake": None, "rule": "too few correct runs"}
    finite = [v for v in catch if v == v]
    best = (min(finite) if upper else max(finite)) if finite else None
    threshold = round_away(b, upper)
    if best is not None and not beyond(best, threshold, upper):
        threshold = b
    return {"threshold": threshold, "bound": b, "best_mistake": best, "rule": "the 0.1% prediction bound"}


def catchable(runs: Sequence[float], correct: Sequence[float], upper: bool, p: float = P_TARGET) -> bool:
    """Whether every run of a mistake lies beyond the correct runs' bound (so a threshold can catch it)."""
    b = bound(correct, upper, p)
    return bool(runs) and b == b and all(beyond(v, b, upper) for v in runs)
