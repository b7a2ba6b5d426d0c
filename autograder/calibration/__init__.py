"""Threshold calibration: what each assignment's fast-profile thresholds are, and how they are measured.

``python -m autograder calibrate <assignment>`` (:mod:`autograder.calibration.driver`) executes the
assignment's notebook the way a fixture is graded (the solved release, or a registered mistake's
answer cells from autograder/assignments/<short>/mistakes.py) under several seeds and torch thread counts, measures every
threshold of :data:`Spec.thresholds` on the checkpoints each run wrote, places each threshold with
:mod:`autograder.calibration.stats` and writes docs/calibration/<assignment>.json and .md.

One module per assignment (``autograder/assignments/<short>/calibration.py``) defines ``SPEC``: its thresholds
(the profile field each one sets, the comparison the hidden test makes, the graded cell it decides,
the checkpoints and student functions its measurement reads), the function that measures them from a
run's folder with the reference evaluators (``autograder/assignments/<short>/reference.py``), the profile overrides of a seed,
and the tiny overrides of ``--dry-run``.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from course_lib.profiles import ASSIGNMENT_MODULES as SHORT

OPS = ("<", "<=", ">=", ">")


@dataclasses.dataclass(frozen=True)
class Threshold:
    """One number a threshold cell compares with a profile value.

    Attributes:
        statistic: key of the measured value in what :attr:`Spec.measure` returns.
        cell: the graded cell (``test_threshold_<run>``) whose hidden part makes this comparison.
        op: how a run passes: ``value <op> threshold`` ("<" or "<=": lower is better; ">=" or ">": higher).
        field: the profile field that holds the threshold (None: the hidden test has the value built in).
        fixed: a threshold that follows from the maths, not from calibration (log p(x) estimate >= ELBO,
            KL decreasing in beta): its value (the profile's ``field`` must hold it, if one is named); its
            false-reject probability is measured like the others'.
        checkpoints: stems of the checkpoints the measurement reads (a mistake that drops one of them
            is graded on its own retrained checkpoint).
        uses: the student functions the measurement calls (a mistake replacing one is measured with it).
        label: what the number is, for the tables.
    """

    statistic: str
    cell: str
    op: str
    label: str
    field: str | None = None
    fixed: float | None = None
    checkpoints: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"{self.statistic}: op must be one of {OPS}, got {self.op!r}")
        if self.field is None and self.fixed is None:
            raise ValueError(f"{self.statistic}: give field= (a calibrated threshold) and/or fixed= (a fixed one)")

    @property
    def calibrated(self) -> bool:
        """True when the calibration places this threshold (False for a fixed one)."""
        return self.fixed is None

    @property
    def upper(self) -> bool:
        """True when the threshold is an upper bound (lower values are better)."""
        return self.op in ("<", "<=")

    def passes(self, value: float, threshold: float) -> bool:
        """Whether ``value`` passes ``threshold`` the way the hidden test compares them (nan fails)."""
        if value != value:
            return False
        return {"<": value < threshold, "<=": value <= threshold, ">=": value >= threshold, ">": value > threshold}[
            self.op
        ]

    @property
    def name(self) -> str:
        return self.field or self.statistic


@dataclasses.dataclass(frozen=True)
class Spec:
    """How one assignment is calibrated.

    Attributes:
        assignment: e.g. ``"02_vae"``.
        thresholds: every number a ``test_threshold_*`` cell checks.
        measure: ``measure(folder, cfg, functions) -> {statistic: value}``: ``folder`` holds the run's
            ``checkpoints/``, ``cfg`` is the run's profile, ``functions`` the run's notebook functions
            (first cell + answer cells, as the grader's judge has them) or None when no threshold
            ``uses`` any.
        seed_overrides: seed -> profile overrides of one run (seed 0 is the profile as shipped).
        dry_run: profile overrides that make a run take seconds (``--dry-run``); the thresholds the
            dry run computes are meaningless and are written elsewhere.
        check_fields: profile fields that only change what is checked, never what trains (they are left
            out of the fingerprint that ``--reuse`` compares).
        about: a paragraph for the top of the table: what is measured, on which data.
        notes: closing remarks (what the thresholds cannot catch and why).
    """

    assignment: str
    thresholds: tuple[Threshold, ...]
    measure: Callable[[Path, Any, ModuleType | None], dict[str, float]]
    seed_overrides: Callable[[int], dict[str, Any]]
    dry_run: Mapping[str, Any]
    check_fields: tuple[str, ...] = ()
    about: str = ""
    notes: str = ""

    @property
    def cells(self) -> tuple[str, ...]:
        """The graded cells the thresholds decide, in order."""
        return tuple(dict.fromkeys(t.cell for t in self.thresholds))

    @property
    def uses(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f for t in self.thresholds for f in t.uses))

    @property
    def fields(self) -> tuple[str, ...]:
        """Profile fields that hold thresholds (calibrated or fixed)."""
        return tuple(t.field for t in self.thresholds if t.field)


def seed_only(seed: int) -> dict[str, Any]:
    """The usual :attr:`Spec.seed_overrides`: the profile's ``seed`` field."""
    return {"seed": seed}


def spec_for(name: str) -> Spec:
    """The calibration spec of assignment ``name``."""
    if name not in SHORT:
        raise ValueError(f"unknown assignment {name!r}; expected one of {', '.join(SHORT)}")
    return importlib.import_module(f"autograder.assignments.{SHORT[name]}.calibration").SPEC
