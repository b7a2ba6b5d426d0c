"""Written answers: the questions a TA grades by hand, their model answers and rubrics.

A written answer is an nbgrader manually graded answer cell: a markdown cell with ``solution`` and
``grade`` set, right after the markdown cell that asks the question. In the solution notebook (the
only place they exist) its whole source is ::

    ### BEGIN SOLUTION
    **Model answer.** what a full-marks answer says

    **Rubric (P points).**
    - 1 point: one observable criterion
    - 2 points: ...
    ### END SOLUTION

``nbgrader generate_assignment`` replaces that region with "YOUR ANSWER HERE"; :func:`leaks` proves no
line of it reaches the release, :func:`problems` that every rubric's criteria add up to the cell's
points, and :func:`write` renders the rubric pages TAs read next to the formgrader
(``<course>/rubrics/<assignment>.md``, written whenever a course folder is graded).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import nbformat

from .notebooks import between, nbgrader_meta

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
CRITERION = re.compile(r"^\s*[-*]\s*(\d+(?:\.\d+)?)\s+points?\s*:", re.IGNORECASE)
MIN_LEAK_CHARS = 25  # shorter pieces ("1 point: names X") prove nothing


@dataclasses.dataclass(frozen=True)
class Written:
    grade_id: str
    points: float
    question: str  # the markdown cell before the answer cell
    model_answer: str
    rubric: str  # the criteria, one per line


def is_written_cell(cell) -> bool:
    """An nbgrader manually graded answer: a markdown cell with ``solution`` and ``grade``."""
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "markdown" and bool(meta.get("solution")) and bool(meta.get("grade"))


def _region(source: str) -> str:
    return between(source, BEGIN, END).strip()


def _parts(cell) -> tuple[str, str]:
    """(model answer, rubric's criteria one per line) of a written answer cell."""
    head, _, tail = _region(cell.source).partition("**Rubric")
    return (
        head.replace("**Model answer.**", "", 1).strip(),
        "\n".join(line for line in tail.splitlines()[1:] if line.strip()),
    )


def written_cells(nb) -> list[Written]:
    """Every written answer of a solution notebook, in notebook order."""
    found, question = [], ""
    for cell in nb.cells:
        if is_written_cell(cell):
            meta = nbgrader_meta(cell)
            found.append(Written(meta["grade_id"], float(meta.get("points", 0)), question.strip(), *_parts(cell)))
        elif cell.get("cell_type") == "markdown":
            question = cell.source
    return found


def model_answer(cell) -> str:
    """What a student who answers a written question fully would hand in (the model answer, no rubric)."""
    return _parts(cell)[0]


def problems(nb) -> list[str]:
    """Written answers whose source does not follow the convention of the module docstring."""
    out = []
    for cell in nb.cells:
        if not is_written_cell(cell):
            continue
        gid, points = nbgrader_meta(cell).get("grade_id", "?"), float(nbgrader_meta(cell).get("points", 0))
        text = _region(cell.source)
        if not text:
            out.append(f"written answer {gid}: no {BEGIN} ... {END} region (the release would show it)")
            continue
        if "**Model answer.**" not in text or "**Rubric" not in text:
            out.append(f"written answer {gid}: needs a '**Model answer.**' and a '**Rubric (...)**' part")
            continue
        criteria = [
            float(m.group(1)) for line in text.partition("**Rubric")[2].splitlines() if (m := CRITERION.match(line))
        ]
        if not criteria or abs(sum(criteria) - points) > 1e-9:
            out.append(
                f"written answer {gid}: its rubric's criteria give {sum(criteria):g} points, the cell {points:g}"
            )
        if points <= 0:
            out.append(f"written answer {gid}: no points")
    return out


def _fragments(text: str) -> list[str]:
    """The sentences and list items of a model answer or rubric, markup removed."""
    text = text.replace("**Model answer.**", "\n")
    pieces = re.split(r"(?<=[.!?;:])\s+|\n+", text)
    return [p.strip(" -*") for p in pieces if len(p.strip(" -*")) >= MIN_LEAK_CHARS]


def leaks(source_nb, release_nb) -> list[str]:
    """Sentences of a model answer or rubric that appear in the release's cells."""
    released = "\n".join(c.source for c in release_nb.cells)
    released = " ".join(released.split())
    out = []
    for cell in source_nb.cells:
        if not is_written_cell(cell):
            continue
        for piece in _fragments(_region(cell.source)):
            if " ".join(piece.split()) in released:
                out.append(
                    f"the model answer or rubric of {nbgrader_meta(cell)['grade_id']} is in the release: {piece[:60]!r}"
                )
    return out


def render(name: str, items: list[Written]) -> str:
    """The rubric page of one assignment (Markdown)."""
    total = sum(w.points for w in items)
    lines = [
        f"# {name}: written answers ({len(items)} questions, {total:g} points)",
        "",
        "Grade each answer in the formgrader (Manual Grading): the model answer says what a full-marks "
        "answer contains; give the points of each rubric criterion the answer meets. Generated from the "
        "solution notebook: edit it there.",
        "",
    ]
    for w in items:
        label = [] if w.question.startswith("**Question") else ["**Question.**", ""]
        lines += [
            f"## {w.grade_id} ({w.points:g} points)",
            "",
            *label,
            w.question,
            "",
            "**Model answer.**",
            "",
            w.model_answer,
            "",
            "**Rubric.**",
            "",
            w.rubric,
            "",
        ]
    return "\n".join(lines)


def write(solutions: Path, names: list[str], out: Path) -> list[Path]:
    """``out/<assignment>.md`` for each assignment that has written answers; the files written."""
    written = []
    for name in names:
        items = written_cells(nbformat.read(Path(solutions) / name / f"{name}.ipynb", as_version=4))
        if items:
            out.mkdir(parents=True, exist_ok=True)
            path = out / f"{name}.md"
            path.write_text(render(name, items))
            written.append(path)
    return written
