"""Staged submissions that attack the grader, for any assignment, generated from its solution notebook.

``python -m autograder fixtures [ASSIGNMENT ...] --out autograder/fixtures`` writes
``OUT/<kind>/<assignment>/<assignment>.ipynb`` (plus ``checkpoints/``) for each kind below; ``make
demo`` grades whatever lies under autograder/fixtures/ along with its own submissions. The kinds are
the same for every assignment; the common mistakes of each assignment live in its grading test
(tests/test_<short>_grading.py).

What a correct grader does with each (``EXPECTED``):

* ``solution``: full marks.
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
  the cells that evaluate checkpoints score 0, the function tests keep their points, and the marker
  file never appears.
"""
from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import nbformat

from . import RELEASE, SOLUTIONS, assignments

KINDS = ("solution", "locked_test_edited", "graded_cell_deleted", "infinite_loop", "kernel_dies",
         "checkpoint_missing", "checkpoint_corrupt", "checkpoint_oversized", "checkpoint_malicious")
# what each kind should cost: "none" or "checkpoint_cells" (the cells that evaluate checkpoints)
EXPECTED = {"solution": "none", "locked_test_edited": "none", "graded_cell_deleted": "none",
            "infinite_loop": "none", "kernel_dies": "none", "checkpoint_missing": "none",
            "checkpoint_corrupt": "checkpoint_cells", "checkpoint_oversized": "checkpoint_cells",
            "checkpoint_malicious": "checkpoint_cells"}


class _Payload:
    """Unpickling this runs a shell command that writes ``target``: weights_only loading refuses it."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"echo pwned > {self.target}",))


def graded_cells(nb) -> list[str]:
    """grade_ids of the graded (test) cells, in notebook order."""
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]


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


def _insert_after_imports(nb, source: str):
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(first_code + 1, nbformat.v4.new_code_cell(source))
    nb.cells[first_code + 1].pop("id", None)
    return nb


def stage(name: str, out: Path, *, checkpoints: Path, marker: Path, kinds=KINDS,
          solutions: Path = SOLUTIONS, release: Path = RELEASE, oversize_bytes: int | None = None) -> dict[str, Path]:
    """Write ``out/<kind>/<name>/`` for each of ``kinds``; returns kind -> folder.

    Args:
        checkpoints: the folder of checkpoints a solution run wrote (copied into each submission).
        marker: the file the malicious pickle would create if it were ever loaded unsafely.
        oversize_bytes: size of the oversized checkpoint (default: one byte over the loader's cap);
            written sparse, so it costs no disk until something reads it.
    """
    from course_lib.checkpoints import DEFAULT_MAX_BYTES

    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown fixture kinds {sorted(unknown)}; valid: {', '.join(KINDS)}")
    pts = sorted(Path(checkpoints).glob("*.pt"))
    if not pts:
        raise FileNotFoundError(f"no checkpoints in {checkpoints}: run the solution notebook of {name} first")
    folders = {}
    for kind in kinds:
        nb = solved_release(name, solutions, release)
        last = graded_cells(nb)[-1]
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
        if kind != "checkpoint_missing":
            shutil.copytree(checkpoints, target / "checkpoints")
        for pt in (target / "checkpoints").glob("*.pt") if kind.startswith("checkpoint_") else ():
            if kind == "checkpoint_corrupt":
                pt.write_bytes(pt.read_bytes()[: pt.stat().st_size // 2])  # a truncated upload
            elif kind == "checkpoint_oversized":
                pt.unlink()
                with open(pt, "wb") as f:
                    f.truncate(oversize_bytes or DEFAULT_MAX_BYTES + 1)
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
        stage(name, out, checkpoints=ckpt, marker=out / "PWNED")
        log(f"{name}: {len(KINDS)} fixtures under {out}/<kind>/{name}/")
    return 0
