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
import subprocess
import time
from pathlib import Path

from . import SOLUTIONS
from .release import nbgrader, write_course_config

SUBMISSION_TIMEOUT_S = 3600
SANDBOX = {"memory_mb": 8000, "cpu_s": 3600}


@dataclasses.dataclass
class Result:
    student: str
    assignment: str
    score: float
    max_score: float
    cells: dict[str, tuple[float, float]]
    seconds: float
    error: str = ""
    reasons: dict[str, str] = dataclasses.field(default_factory=dict)  # graded cell -> the error it raised


def find_submissions(submissions: Path, solutions: Path = SOLUTIONS) -> list[tuple[str, str]]:
    """(student, assignment) pairs under ``submissions`` whose assignment has a solution notebook."""
    pairs = []
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir()):
        for a_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if (solutions / a_dir.name / f"{a_dir.name}.ipynb").is_file():
                pairs.append((student_dir.name, a_dir.name))
    return pairs


def grade(submissions: Path, course_dir: Path, *, timeout: float = SUBMISSION_TIMEOUT_S, solutions: Path = SOLUTIONS,
          sandbox: dict[str, int] | None = SANDBOX, jobs: int | None = None, dask_scheduler: str | None = None,
          log=print) -> list[Result]:
    """Autograde every submission, generate feedback, export ``grades.csv``; return per-cell results.

    Each submission runs in its own nbgrader process under ``sandbox`` limits (memory, CPU time, no
    network; see :mod:`autograder.sandbox`) and a wall-clock ``timeout``: one that crashes, hangs or
    exhausts memory loses the points of the cells it broke, and nothing else is affected.

    With ``jobs > 1`` (threads on this machine) or ``dask_scheduler`` (a Dask distributed cluster
    whose workers share this file system), each submission is graded in a private course folder
    with its own gradebook, and the results are merged into ``course_dir``'s gradebook afterwards
    (nbgrader's own autograde is serial and its SQLite gradebook takes one writer). ``jobs=None``
    reads ``$COURSE_GRADE_JOBS`` (default 1).
    """
    if jobs is None:
        jobs = int(os.environ.get("COURSE_GRADE_JOBS", "1"))
    submissions, course_dir = Path(submissions).resolve(), Path(course_dir).resolve()
    if not submissions.is_dir():
        raise FileNotFoundError(f"no submissions folder at {submissions}: expected <student>/<assignment>/ folders")
    repo = Path(__file__).resolve().parent.parent
    inside = course_dir == repo or repo in course_dir.parents
    if inside and (repo / "grading") not in (course_dir, *course_dir.parents):
        raise ValueError(f"the course folder {course_dir} must lie outside the repository (or under grading/)")
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    pairs = find_submissions(submissions, solutions)
    if not pairs:
        log(f"no submissions found under {submissions} (expected <student>/<assignment>/<assignment>.ipynb)")
        return []
    names = sorted({a for _, a in pairs})
    env = _prepare_course(course_dir, names, solutions)
    threads = _threads_per_job(jobs if dask_scheduler is None else 1)

    def work(pair: tuple[str, str]) -> tuple[float, str]:
        student, name = pair
        log(f"autograding {student}/{name} ...")
        if jobs == 1 and dask_scheduler is None:
            return _autograde_one(course_dir, submissions, student, name, env, timeout, sandbox)
        private = course_dir / ".parallel" / f"{student}--{name}"
        if private.exists():
            shutil.rmtree(private)
        private_env = dict(_prepare_course(private, [name], solutions), **threads)
        outcome = _autograde_one(private, submissions, student, name, private_env, timeout, sandbox)
        return outcome

    if dask_scheduler is not None:
        from distributed import Client

        with Client(dask_scheduler) as client:
            outcomes = client.gather(client.map(work, pairs, pure=False))
    elif jobs > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(jobs) as pool:
            outcomes = list(pool.map(work, pairs))
    else:
        outcomes = [work(pair) for pair in pairs]
    times = dict(zip(pairs, outcomes))
    if jobs > 1 or dask_scheduler is not None:
        for student, name in pairs:
            _merge(course_dir / ".parallel" / f"{student}--{name}", course_dir, student, name)
        shutil.rmtree(course_dir / ".parallel", ignore_errors=True)
    for name in names:
        nbgrader(["generate_feedback", name, "--force", "--log-level=WARN"], cwd=course_dir, env=env)
    nbgrader(["export", "--to", str(course_dir / "grades.csv"), "--log-level=WARN"], cwd=course_dir, env=env)
    return _collect(course_dir, pairs, times)


def _threads_per_job(jobs: int) -> dict[str, str]:
    """Thread limits for each grading kernel when ``jobs`` run at once on this machine: the cores split
    between them (with torch's default, one thread per core in every kernel, N jobs run N x cores
    threads and contend for the CPU). An OMP_NUM_THREADS set by the caller wins."""
    if jobs <= 1 or "OMP_NUM_THREADS" in os.environ:
        return {}
    n = str(max(1, (os.cpu_count() or 1) // jobs))
    return {"OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n}


def _prepare_course(course_dir: Path, names: list[str], solutions: Path) -> dict[str, str]:
    """Write the course config, copy each assignment's source notebook, generate it; return the env."""
    write_course_config(course_dir)
    env = dict(os.environ, COURSE_PROGRESS="0", IPYTHONDIR=str(_grading_ipython_dir(course_dir)))
    for name in names:
        src_dir = course_dir / "source" / name
        src_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(solutions / name / f"{name}.ipynb", src_dir / f"{name}.ipynb")
        proc = nbgrader(["generate_assignment", name, "--force", "--log-level=WARN"], cwd=course_dir, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n{proc.stderr}")
    return env


def _autograde_one(course_dir: Path, submissions: Path, student: str, name: str, env, timeout, sandbox) -> tuple[float, str]:
    """Copy one submission into ``course_dir`` and autograde it; return (seconds, error or "")."""
    target = course_dir / "submitted" / student / name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(submissions / student / name, target)
    start = time.monotonic()
    error = ""
    try:
        proc = nbgrader(["autograde", name, "--student", student, "--force", "--log-level=WARN"],
                        cwd=course_dir, env=env, timeout=timeout, sandbox=sandbox)
        if proc.returncode != 0:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            error = lines[-1] if lines else "autograde failed"
    except subprocess.TimeoutExpired:
        error = f"stopped after {timeout:.0f} s (wall-clock limit)"
    return time.monotonic() - start, error


def _merge(private: Path, course_dir: Path, student: str, name: str) -> None:
    """Copy one privately graded submission (files and gradebook rows) into the course folder."""
    from nbgrader.api import Gradebook, MissingEntry

    for kind in ("submitted", "autograded"):
        src, dst = private / kind / student / name, course_dir / kind / student / name
        if dst.exists():
            shutil.rmtree(dst)
        if src.exists():
            shutil.copytree(src, dst)
    with Gradebook(f"sqlite:///{private / 'gradebook.db'}") as src, Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as dst:
        try:
            sub = src.find_submission(name, student)
        except MissingEntry:
            return
        dst.update_or_create_student(student)
        try:
            dst.remove_submission(name, student)
        except MissingEntry:
            pass
        dst.add_submission(name, student, timestamp=sub.timestamp)
        for nb in sub.notebooks:
            for g in nb.grades:
                row = dst.find_grade(g.name, nb.name, name, student)
                row.auto_score, row.manual_score = g.auto_score, g.manual_score
                row.extra_credit, row.needs_manual_grade = g.extra_credit, g.needs_manual_grade
            for c in nb.comments:
                row = dst.find_comment(c.name, nb.name, name, student)
                row.auto_comment, row.manual_comment = c.auto_comment, c.manual_comment
            dst.find_submission_notebook(nb.name, name, student).flagged = nb.flagged
        dst.db.commit()


KERNEL_GUARD = '''"""Loaded into every grading kernel: a submission that calls os._exit loses the cell that did it,
instead of killing the kernel and with it the grades of every other cell."""
import os as _os


def _refuse_exit(status=0):
    raise RuntimeError(f"os._exit({status}) was called while grading; the kernel keeps running")


_os._exit = _refuse_exit
'''


def _grading_ipython_dir(course_dir: Path) -> Path:
    """An IPYTHONDIR whose startup file guards the grading kernels (see KERNEL_GUARD)."""
    folder = course_dir / ".ipython"
    startup = folder / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-grading-guard.py").write_text(KERNEL_GUARD)
    return folder


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
            reasons = cell_errors(course_dir / "autograded" / student / name / f"{name}.ipynb")
            results.append(Result(student, name, float(sub.score), float(sub.max_score), cells, seconds, error, reasons))
    return results


def cell_errors(notebook: Path) -> dict[str, str]:
    """grade_id -> 'ErrorName: first line of the message' for each graded cell that raised.

    When an earlier cell that is not graded had already failed (a training cell that refused a
    checkpoint, an answer cell left unimplemented), the reason names that first failure too: the
    graded cell's own error (a NameError, a KeyError) is usually just its consequence.
    """
    import nbformat

    if not notebook.is_file():
        return {}
    reasons, first = {}, ""
    for cell in nbformat.read(notebook, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code":
            continue
        error = next((out for out in cell.get("outputs", []) if out.get("output_type") == "error"), None)
        if error is None:
            continue
        message = (error.get("evalue") or "").strip().splitlines()
        text = f"{error.get('ename')}: {message[0][:400] if message else ''}".rstrip(": ")
        if not meta.get("grade"):
            first = first or text
            continue
        reasons[meta["grade_id"]] = text + (f" (after an earlier cell failed: {first[:300]})" if first else "")
    return reasons


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
