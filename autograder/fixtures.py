"""Staged submissions for every assignment, generated from its solution and release notebooks.

``python -m autograder fixtures [ASSIGNMENT ...] --out autograder/fixtures`` writes
``OUT/<kind>/<assignment>/<assignment>.ipynb`` (plus ``checkpoints/`` and whatever the kind brings)
for each kind of :func:`all_kinds`; ``make demo`` grades whatever lies under autograder/fixtures/
along with its own submissions, and tests/test_grading.py grades them and compares each graded cell
with :func:`expected_scores`.

The kinds, and what a correct grader gives each:

* ``solution``: full marks; ``blank``: the student release as handed out, 0 on every graded cell.
* ``hard_coded`` (an answer that returns the visible test's expected value) and ``mistake_<name>``
  (a common mistake): from autograder/assignments/<short>/mistakes.py, which says which cells each one loses and
  which checkpoints it does not carry (the graded run retrains those with the mistake).
* the attacks of :mod:`autograder.attacks` (edited and deleted locked cells, endless loops, a dying
  kernel, kernel hooks that hide errors, patched comparison helpers, shadowing modules, copying the
  instructor's notebook, writing the course's files, detached processes, network access, symlinks and
  special files in the upload, missing / truncated / oversized / malicious / compressed checkpoints):
  each keeps every point, gets the blank's points, or loses the cells that evaluate checkpoints
  (``CHECKPOINT_CELLS`` of the assignment).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from . import RELEASE, SOLUTIONS, notebook_names
from .attacks import ATTACKS, Context, stage_attack
from .mistakes import Mistake, for_assignment

# what each kind should cost: "none", "all", or "checkpoint_cells" (the cells that evaluate checkpoints)
EXPECTED = {"solution": "none", "blank": "all", **{kind: a.expect for kind, a in ATTACKS.items()}}
KINDS = ("solution", "blank", *ATTACKS)


def mistake_kinds(name: str) -> dict[str, Mistake]:
    """kind -> Mistake for assignment ``name``: ``hard_coded`` and ``mistake_<name>``."""
    return {(m if m == "hard_coded" else f"mistake_{m}"): v for m, v in for_assignment(name).mistakes.items()}


def all_kinds(name: str) -> tuple[str, ...]:
    """Every fixture kind of assignment ``name``."""
    return KINDS[:2] + tuple(mistake_kinds(name)) + KINDS[2:]


def assignment_kinds(name: str) -> tuple[str, ...]:
    """The kinds that test this assignment's graded cells: solution, blank, hard-coded, mistakes (the
    attacks test the grader, which is the same for every assignment)."""
    return KINDS[:2] + tuple(mistake_kinds(name))


def trains(name: str, kind: str) -> bool:
    """Whether grading fixture ``kind`` trains a model with correct code (no checkpoint for a training
    cell whose functions work)."""
    if kind in ATTACKS:
        attack = ATTACKS[kind]
        return attack.base == "solution" and not attack.checkpoints
    mistake = mistake_kinds(name).get(kind)
    return bool(mistake and mistake.retrains)


def graded_points(nb) -> dict[str, float]:
    """grade_id -> points of each graded cell, in notebook order."""
    return {
        c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"].get("points", 0))
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"
    }


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


def solved_release(name: str, solutions: Path = SOLUTIONS, release: Path = RELEASE):
    """The student release of ``name`` with every answer cell filled in from the solution (what a
    student who got everything right hands in: no hidden tests, no solution markers), written answers
    with their model answers (no rubric)."""
    from .notebooks import is_answer_cell
    from .rubrics import is_written_cell, model_answer

    sol = nbformat.read(solutions / name / f"{name}.ipynb", as_version=4)
    answers = {
        c.metadata["nbgrader"]["grade_id"]: "\n".join(
            line for line in c.source.splitlines() if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
        )
        for c in sol.cells
        if is_answer_cell(c)
    }
    answers.update({c.metadata["nbgrader"]["grade_id"]: model_answer(c) for c in sol.cells if is_written_cell(c)})
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
        raise ValueError(
            f"{name}: {kind!r} is not the solution or a registered mistake; "
            f"expected one of solution, {', '.join(mistakes)}"
        )
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
        diff.update({cell: (g, None) for cell, g in got.items() if cell not in want and cell not in r.written})
        # written answers wait for a TA: the autograder gives them nothing, whatever the kind
        diff.update({cell: (got.get(cell), 0.0) for cell in r.written if got.get(cell)})
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


def stage(
    name: str,
    out: Path,
    *,
    checkpoints: Path,
    marker: Path,
    kinds=None,
    solutions: Path = SOLUTIONS,
    release: Path = RELEASE,
    oversize_bytes: int | None = None,
    port: int = 9,
    course_guess: Path | None = None,
) -> dict[str, Path]:
    """Write ``out/<kind>/<name>/`` for each of ``kinds``; returns kind -> folder.

    Args:
        checkpoints: the folder of checkpoints a solution run wrote (copied into each submission).
        marker: the file an attack creates if it ever escapes (a malicious pickle loaded unsafely, a
            process that outlives grading, a startup file that runs).
        oversize_bytes: size of the oversized checkpoint (default: one byte over the loader's cap);
            written sparse, so it costs no disk until something reads it.
        port, course_guess: what the network and course-folder attacks aim at.
    """
    every = all_kinds(name)
    kinds = every if kinds is None else tuple(kinds)
    unknown = set(kinds) - set(every)
    if unknown:
        raise ValueError(f"unknown fixture kinds {sorted(unknown)} for {name}; valid: {', '.join(every)}")
    mistakes = mistake_kinds(name)
    if not sorted(Path(checkpoints).glob("*.pt")):
        raise FileNotFoundError(f"no checkpoints in {checkpoints}: run the solution notebook of {name} first")
    ctx = Context(
        name,
        Path(checkpoints),
        Path(marker),
        port=port,
        oversize_bytes=oversize_bytes,
        **({"course_guess": Path(course_guess)} if course_guess else {}),
    )
    folders = {}
    for kind in kinds:
        target = out / kind / name
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        base = "blank" if kind == "blank" or (kind in ATTACKS and ATTACKS[kind].base == "blank") else "solution"
        nb = (
            nbformat.read(release / name / f"{name}.ipynb", as_version=4)
            if base == "blank"
            else solved_release(name, solutions, release)
        )
        if kind in ATTACKS:
            stage_attack(kind, nb, target, ctx)
        else:
            if kind in mistakes:
                _replace_answers(nb, mistakes[kind].replace, name)
            nbformat.write(nb, target / f"{name}.ipynb")
            if kind != "blank":
                shutil.copytree(checkpoints, target / "checkpoints")
            for pattern in mistakes[kind].drop if kind in mistakes else ():
                for f in (target / "checkpoints").glob(f"{pattern}.*"):
                    f.unlink()
        folders[kind] = target
    return folders


def main(names: list[str] | None, out: Path, *, log=print) -> int:
    names = names or notebook_names()
    for name in names:
        ckpt = SOLUTIONS / name / "checkpoints"
        if not any(ckpt.glob("*.pt")):
            log(f"{name}: no checkpoints in {ckpt}; run the solution notebook first (make test or make demo)")
            return 1
        written = stage(name, out, checkpoints=ckpt, marker=out / "PWNED")
        log(f"{name}: {len(written)} fixtures under {out}/<kind>/{name}/")
    return 0
