"""Staged submissions for every assignment, generated from its solution and release notebooks.

``python -m autograder fixtures [ASSIGNMENT ...] --out autograder/fixtures`` writes
``OUT/<kind>/<assignment>/<assignment>.ipynb`` (plus ``checkpoints/``) for each kind of :func:`all_kinds`;
``make demo`` grades whatever lies under autograder/fixtures/ along with its own submissions, and
tests/test_grading.py grades every kind of every assignment and compares each graded cell with
:func:`expected_scores`.

The kinds, and what a correct grader gives each:

* ``solution``: full marks.
* ``blank``: the student release as handed out: 0 on every graded cell (every graded cell needs the
  student's code, or checkpoints that only the student's code can train).
* ``hard_coded``: an answer that returns the visible test's expected value; ``mistake_<name>``: a
  common mistake. Both come from autograder/mistakes/<short>.py, which says which cells each one
  loses and which checkpoints it does not carry (the graded run retrains those with the mistake).
* ``locked_test_edited``: the student rewrote the last graded test cell (here: to fail). nbgrader puts
  the locked cell back, so the submission keeps full marks.
* ``graded_cell_deleted``: the last graded test cell is gone. nbgrader adds it back (with its hidden
  tests) and grades it like any other: full marks here, since the answers are right.
* ``infinite_loop``: a cell that never ends, right after the imports. The cell timeout interrupts it
  and the rest runs: full marks (grading takes one cell timeout longer).
* ``kernel_dies``: a cell calling ``os._exit(1)`` after the imports. The grading kernel turns it into
  an exception: full marks.
* ``checkpoint_missing``: no checkpoints. In the fast profile the training cells train again: full
  marks. (In the full profile nothing trains while grading and the threshold cells score 0.)
* ``checkpoint_corrupt``, ``checkpoint_oversized``, ``checkpoint_malicious``: every ``.pt`` replaced by
  garbage, by a file over the loader's size cap, or by a pickle that would run a command (it writes
  ``MARKER``) if loaded unsafely. The loader refuses each with a ``CheckpointError`` saying what to do;
  the cells that evaluate checkpoints (``CHECKPOINT_CELLS`` of the assignment) score 0, the function
  tests keep their points, and the marker file never appears.
"""
from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import nbformat

from . import RELEASE, SOLUTIONS, assignments
from .mistakes import Mistake, for_assignment

# the kinds every assignment has (its mistakes add ``hard_coded`` and ``mistake_<name>``)
KINDS = ("solution", "blank", "locked_test_edited", "graded_cell_deleted", "infinite_loop", "kernel_dies",
         "checkpoint_missing", "checkpoint_corrupt", "checkpoint_oversized", "checkpoint_malicious")
# what each of those should cost: "none", "all", or "checkpoint_cells" (the cells that evaluate checkpoints)
EXPECTED = {"solution": "none", "blank": "all", "locked_test_edited": "none", "graded_cell_deleted": "none",
            "infinite_loop": "none", "kernel_dies": "none", "checkpoint_missing": "none",
            "checkpoint_corrupt": "checkpoint_cells", "checkpoint_oversized": "checkpoint_cells",
            "checkpoint_malicious": "checkpoint_cells"}


def mistake_kinds(name: str) -> dict[str, Mistake]:
    """kind -> Mistake for assignment ``name``: ``hard_coded`` and ``mistake_<name>``."""
    return {(m if m == "hard_coded" else f"mistake_{m}"): v for m, v in for_assignment(name).mistakes.items()}


def all_kinds(name: str) -> tuple[str, ...]:
    """Every fixture kind of assignment ``name``."""
    return KINDS[:2] + tuple(mistake_kinds(name)) + KINDS[2:]


def trains(name: str, kind: str) -> bool:
    """Whether grading fixture ``kind`` trains a model (no checkpoint for some training cell)."""
    if kind == "checkpoint_missing":
        return True
    mistake = mistake_kinds(name).get(kind)
    return bool(mistake and mistake.retrains)


def graded_points(nb) -> dict[str, float]:
    """grade_id -> points of each graded cell, in notebook order."""
    return {c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"].get("points", 0)) for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}


def expected_scores(name: str, kind: str, solutions: Path = SOLUTIONS) -> dict[str, float | None]:
    """graded cell -> the points fixture ``kind`` of ``name`` must get (None: not asserted, noise)."""
    points = graded_points(nbformat.read(solutions / name / f"{name}.ipynb", as_version=4))
    cases = for_assignment(name)
    if kind in EXPECTED:
        lost = {"none": (), "all": tuple(points), "checkpoint_cells": cases.checkpoint_cells}[EXPECTED[kind]]
        undecided = ()
    elif kind in mistake_kinds(name):
        mistake = mistake_kinds(name)[kind]
        lost, undecided = mistake.lost, mistake.undecided
    else:
        raise ValueError(f"unknown fixture kind {kind!r} for {name}; valid: {', '.join(all_kinds(name))}")
    unknown = (set(lost) | set(undecided)) - set(points)
    if unknown:
        raise ValueError(f"{name}: {kind} names graded cells the notebook does not have: {sorted(unknown)}")
    return {cell: None if cell in undecided else (0.0 if cell in lost else p) for cell, p in points.items()}


class _Payload:
    """Unpickling this runs a shell command that writes ``target``: weights_only loading refuses it."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"echo pwned > {self.target}",))


def solved_release(name: str, solutions: Path = SOLUTIONS, release: Path = RELEASE):
    """The student release of ``name`` with every answer cell filled in from the solution (what a
    student who got everything right hands in: no hidden tests, no solution markers)."""
    from .notebooks import is_answer_cell

    sol = nbformat.read(solutions / name / f"{name}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: "\n".join(
        line for line in c.source.splitlines() if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
        for c in sol.cells if is_answer_cell(c)}
    nb = nbformat.read(release / name / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nb


def fixture_notebook(name: str, kind: str, solutions: Path = SOLUTIONS, release: Path = RELEASE):
    """The notebook that fixture ``kind`` of ``name`` hands in, for the kinds that differ from the solution
    only in their answers: ``solution``, ``hard_coded`` and ``mistake_<name>`` (what the calibration runs)."""
    mistakes = mistake_kinds(name)
    if kind != "solution" and kind not in mistakes:
        raise ValueError(f"{name}: {kind!r} is not the solution or a registered mistake; "
                         f"expected one of solution, {', '.join(mistakes)}")
    nb = solved_release(name, solutions, release)
    if kind in mistakes:
        _replace_answers(nb, mistakes[kind].replace, name)
    return nb


def mismatches(results, solutions: Path = SOLUTIONS) -> dict[tuple[str, str], dict[str, tuple]]:
    """(student, assignment) -> {cell: (got, expected)} for each graded fixture whose score differs
    from :func:`expected_scores` (results of students that are not fixture kinds are skipped)."""
    wrong = {}
    for r in results:
        if r.student not in all_kinds(r.assignment):
            continue
        want = expected_scores(r.assignment, r.student, solutions)
        got = {cell: score for cell, (score, _) in r.cells.items()}
        diff = {cell: (got.get(cell), w) for cell, w in want.items() if w is not None and got.get(cell) != w}
        diff.update({cell: (g, None) for cell, g in got.items() if cell not in want})
        if diff:
            wrong[(r.student, r.assignment)] = diff
    return wrong


def _replace_answers(nb, replace, name: str) -> None:
    missing = set(replace) - {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
    if missing:
        raise KeyError(f"{name}: no answer cells {sorted(missing)} in the release notebook")
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in replace:
            cell.source = replace[gid].strip("\n")


def _insert_after_imports(nb, source: str):
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(first_code + 1, nbformat.v4.new_code_cell(source))
    nb.cells[first_code + 1].pop("id", None)
    return nb


def stage(name: str, out: Path, *, checkpoints: Path, marker: Path, kinds=None,
          solutions: Path = SOLUTIONS, release: Path = RELEASE, oversize_bytes: int | None = None) -> dict[str, Path]:
    """Write ``out/<kind>/<name>/`` for each of ``kinds``; returns kind -> folder.

    Args:
        checkpoints: the folder of checkpoints a solution run wrote (copied into each submission).
        marker: the file the malicious pickle would create if it were ever loaded unsafely.
        oversize_bytes: size of the oversized checkpoint (default: one byte over the loader's cap,
            ``course_lib.checkpoints.max_checkpoint_bytes()``);
            written sparse, so it costs no disk until something reads it.
    """
    from course_lib.checkpoints import max_checkpoint_bytes

    every = all_kinds(name)
    kinds = every if kinds is None else tuple(kinds)
    unknown = set(kinds) - set(every)
    if unknown:
        raise ValueError(f"unknown fixture kinds {sorted(unknown)} for {name}; valid: {', '.join(every)}")
    mistakes = mistake_kinds(name)
    pts = sorted(Path(checkpoints).glob("*.pt"))
    if not pts:
        raise FileNotFoundError(f"no checkpoints in {checkpoints}: run the solution notebook of {name} first")
    folders = {}
    for kind in kinds:
        nb = (nbformat.read(release / name / f"{name}.ipynb", as_version=4) if kind == "blank"
              else solved_release(name, solutions, release))
        last = list(graded_points(nb))[-1]
        if kind in mistakes:
            _replace_answers(nb, mistakes[kind].replace, name)
        if kind == "locked_test_edited":
            cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == last)
            cell.source = 'raise AssertionError("the student edited this locked test cell")'
        elif kind == "graded_cell_deleted":
            nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != last]
        elif kind == "infinite_loop":
            _insert_after_imports(nb, "while True:  # a submission that never finishes\n    pass")
        elif kind == "kernel_dies":
            _insert_after_imports(nb, "import os\nos._exit(1)  # a submission that kills its kernel")
        target = out / kind / name
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        nbformat.write(nb, target / f"{name}.ipynb")
        if kind not in ("checkpoint_missing", "blank"):
            shutil.copytree(checkpoints, target / "checkpoints")
        drop = mistakes[kind].drop if kind in mistakes else ()
        for pattern in drop:
            for f in (target / "checkpoints").glob(f"{pattern}.*"):
                f.unlink()
        for pt in (target / "checkpoints").glob("*.pt") if kind.startswith("checkpoint_") else ():
            if kind == "checkpoint_corrupt":
                pt.write_bytes(pt.read_bytes()[: pt.stat().st_size // 2])  # a truncated upload
            elif kind == "checkpoint_oversized":
                pt.unlink()
                with open(pt, "wb") as f:
                    f.truncate(oversize_bytes or max_checkpoint_bytes() + 1)
            elif kind == "checkpoint_malicious":
                with open(pt, "wb") as f:
                    pickle.dump({"model": _Payload(str(marker))}, f)
        folders[kind] = target
    return folders


def main(names: list[str] | None, out: Path, *, log=print) -> int:
    names = names or assignments()
    for name in names:
        ckpt = SOLUTIONS / name / "checkpoints"
        if not any(ckpt.glob("*.pt")):
            log(f"{name}: no checkpoints in {ckpt}; run the solution notebook first (make test or make demo)")
            return 1
        written = stage(name, out, checkpoints=ckpt, marker=out / "PWNED")
        log(f"{name}: {len(written)} fixtures under {out}/<kind>/{name}/")
    return 0
