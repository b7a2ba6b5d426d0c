"""What the visible part of a threshold cell shows before a notebook is submitted.

Each ``test_threshold_<run>`` cell first evaluates the student's own checkpoint with the same course_lib
harness the grader uses (the same held-out data, the same fixed random draws), calling the student's
own functions where the measurement needs one (inside :func:`measured`, so an error in them is printed,
not raised), and prints the value, the threshold and the verdict with :func:`report`. The hidden part
then decides with the instructors' reference functions; on a correct solution both give the same number
(tests/test_thresholds.py checks it for every threshold cell).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

OPS = {"<": operator.lt, "<=": operator.le, ">=": operator.ge, ">": operator.gt}


def measured(compute: Callable[[], Any], default: Any = math.nan) -> Any:
    """``compute()``, or ``default`` (nan: a failing value) after printing why it failed. A visible check never
    raises: the hidden part decides, and a student's function that raises here shows its error instead of
    stopping the cell."""
    try:
        return compute()
    except Exception as exc:  # noqa: BLE001 - any error of the student's code is reported, not raised
        print(f"could not compute the value: {type(exc).__name__}: {exc}")
        return default


def passes(value: float, op: str, limit: float) -> bool:
    """``value <op> limit`` (a nan never passes)."""
    if op not in OPS:
        raise ValueError(f"unknown comparison {op!r}; expected one of {', '.join(OPS)}")
    value = float(value)
    return not math.isnan(value) and OPS[op](value, limit)


def report(what: str, value: float, op: str, limit: float) -> bool:
    """Print ``what: value (needs op limit): pass|FAIL`` and return whether it passes.

    Example::

        >>> report("VAE (beta 1): validation reconstruction loss", 171.2, "<", 200.0)
        VAE (beta 1): validation reconstruction loss 171.2 (needs < 200): pass
        True
    """
    ok = passes(value, op, limit)
    print(f"{what} {float(value):.4g} (needs {op} {limit:g}): {'pass' if ok else 'FAIL'}")
    return ok
