"""The common mistakes of each assignment, as a student would hand them in, and what they must cost.

One module per assignment (``autograder/assignments/<short>/mistakes.py``) defines ``MISTAKES`` (name ->
:class:`Mistake`, always including ``"hard_coded"``: an answer that returns the visible test's expected
value) and ``CHECKPOINT_CELLS`` (the graded cells that evaluate submitted checkpoints, which score 0
when the checkpoints are refused). ``python -m autograder fixtures`` stages them under
autograder/fixtures/; tests/test_grading.py grades them end to end and tests/test_mistakes.py checks
each one against the hidden tests without nbgrader.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping
from types import MappingProxyType

from course_lib.profiles import ASSIGNMENT_MODULES as SHORT  # assignment -> short name, one map for the course


@dataclasses.dataclass(frozen=True)
class Mistake:
    """One wrong submission.

    Attributes:
        replace: answer cell grade_id -> the student's source for it.
        lost: graded cells that score 0 when this submission is graded (the cells testing the broken
            function, the cells whose function calls it, and the threshold cells it fails).
        hint: text the first failing test's message contains: the diagnostic the student reads in the
            feedback (every registered mistake has one; tests/test_mistakes.py checks it).
        drop: checkpoints (file stems, ``"*"`` for all) the submission does not carry, because the
            mistake changes what training produces: the graded run retrains them with the broken function.
        undecided: graded cells whose score is noise for this mistake (not asserted).
    """

    replace: Mapping[str, str]
    lost: tuple[str, ...]
    hint: str = ""
    drop: tuple[str, ...] = ()
    undecided: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "replace", MappingProxyType(dict(self.replace)))

    @property
    def retrains(self) -> bool:
        return bool(self.drop)


@dataclasses.dataclass(frozen=True)
class Cases:
    name: str
    mistakes: Mapping[str, Mistake]
    checkpoint_cells: tuple[str, ...]


def for_assignment(name: str) -> Cases:
    """The mistakes of assignment ``name`` (e.g. ``"02_vae"``)."""
    if name not in SHORT:
        raise KeyError(f"no mistakes registered for {name!r}; known: {', '.join(SHORT)}")
    module = importlib.import_module(f"autograder.assignments.{SHORT[name]}.mistakes")
    return Cases(name, MappingProxyType(dict(module.MISTAKES)), tuple(module.CHECKPOINT_CELLS))
