"""Autograde a folder of submissions with nbgrader, in a course folder outside the repository.

Layout of ``SUBMISSIONS``: ``<student>/<assignment>/<assignment>.ipynb`` plus whatever the notebook
saved next to it (``checkpoints/``). Each submission is autograded in its own nbgrader process, so one
that crashes or hangs costs that submission alone.
"""
from __future__ import annotations

import csv
import dataclasses
import os
import shutil
import time
from pathlib import Path

from . import SOLUTIONS
from .release import nbgrader, write_course_config

SUBMISSION_TIMEOUT_S = 3600


@dataclasses.dataclass
class Result:
    student: str
    assignment: str
    score: float
    max_score: float
    cells: dict[str, tuple[float, float]]
    seconds: float
    error: str = ""


def find_submissions(submissions: Path, solutions: Path = SOLUTIONS) -> list[tuple[str, str]]:
    """(student, assignment) pairs under ``submissions`` whose assignment has a solution notebook."""
    pairs = []
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir()):
        for a_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if (solutions / a_dir.name / f"{a_dir.name}.ipynb").is_file():
                pairs.append((student_dir.name, a_dir.name))
    return pairs


def grade(submissions: Path, course_dir: Path, *, timeout: float = SUBMISSION_TIMEOUT_S, solutions: Path = SOLUTIONS,
          log=print) -> list[Result]:
    """Autograde every submission, generate feedback, export ``grades.csv``; return per-cell results."""
    submissions, course_dir = Path(submissions).resolve(), Path(course_dir).resolve()
    if not submissions.is_dir():
        raise FileNotFoundError(f"no submissions folder at {submissions}: expected <student>/<assignment>/ folders")
    repo = Path(__file__).resolve().parent.parent
    inside = course_dir == repo or repo in course_dir.parents
    if inside and (repo / "grading") not in (course_dir, *course_dir.parents):
        raise ValueError(f"the course folder {course_dir} must lie outside the repository (or under grading/)")
    pairs = find_submissions(submissions, solutions)
    if not pairs:
        log(f"no submissions found under {submissions} (expected <student>/<assignment>/<assignment>.ipynb)")
        return []
    write_course_config(course_dir)
    env = dict(os.environ, COURSE_PROGRESS="0")
    for name in sorted({a for _, a in pairs}):
        src_dir = course_dir / "source" / name
        src_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(solutions / name / f"{name}.ipynb", src_dir / f"{name}.ipynb")
        proc = nbgrader(["generate_assignment", name, "--force", "--log-level=WARN"], cwd=course_dir, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n{proc.stderr}")
    times: dict[tuple[str, str], tuple[float, str]] = {}
    for student, name in pairs:
        target = course_dir / "submitted" / student / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(submissions / student / name, target)
        log(f"autograding {student}/{name} ...")
        start = time.monotonic()
        error = ""
        try:
            proc = nbgrader(["autograde", name, "--student", student, "--force", "--log-level=WARN"],
                            cwd=course_dir, env=env, timeout=timeout)
            if proc.returncode != 0:
                error = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["autograde failed"]
                error = error[0]
        except Exception as exc:  # subprocess.TimeoutExpired and friends
            error = f"{type(exc).__name__}: {exc}"
        times[(student, name)] = (time.monotonic() - start, error)
    for name in sorted({a for _, a in pairs}):
        nbgrader(["generate_feedback", name, "--force", "--log-level=WARN"], cwd=course_dir, env=env)
    nbgrader(["export", "--to", str(course_dir / "grades.csv"), "--log-level=WARN"], cwd=course_dir, env=env)
    return _collect(course_dir, pairs, times)


def _collect(course_dir: Path, pairs, times) -> list[Result]:
    from nbgrader.api import Gradebook, MissingEntry

    results = []
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        for student, name in pairs:
            seconds, error = times[(student, name)]
            try:
                sub = gb.find_submission(name, student)
            except MissingEntry:
                results.append(Result(student, name, 0.0, _max_score(gb, name), {}, seconds, error or "not graded"))
                continue
            cells = {}
            for nb in sub.notebooks:
                for g in nb.grades:
                    cells[g.name] = (float(g.score), float(g.max_score))
            results.append(Result(student, name, float(sub.score), float(sub.max_score), cells, seconds, error))
    return results


def _max_score(gb, name) -> float:
    return float(gb.find_assignment(name).max_score)


def format_table(results: list[Result]) -> str:
    """A plain-text grade table."""
    rows = [("student", "assignment", "score", "max", "seconds", "note")]
    rows += [(r.student, r.assignment, f"{r.score:g}", f"{r.max_score:g}", f"{r.seconds:.0f}", r.error[:60]) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def write_csv(results: list[Result], path: Path) -> None:
    """Per-cell scores, one row per (student, assignment, cell)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "cell", "score", "max_score"])
        for r in results:
            for cell, (score, mx) in sorted(r.cells.items()):
                w.writerow([r.student, r.assignment, cell, score, mx])
