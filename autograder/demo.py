"""The offline main job: release, run every solution in the fast profile, autograde, report.

It never stops at the first failure: every solution notebook runs to its end (a failing cell's error is
recorded, as a grading run records it), everything staged is graded, and report.md, grades.csv and the
feedback are written before the job exits non-zero with the list of what failed where. A solution that
fails one of its own threshold cells is a calibration error: the report names the threshold, the value
the solution's checkpoints measure and the limit (autograder.calibration's measurement).

Files, under ``WORK`` (``grading/demo/`` by default): ``report.md`` (grades, failures, figures),
``grades.csv`` (nbgrader's export, a copy of ``course/grades.csv``), ``cells.csv`` (per-cell scores),
``summary.md`` (class statistics), ``submissions/`` (what was graded) and ``course/`` (the scratch
nbgrader course: gradebook, ``feedback/<student>/<assignment>/``).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from . import RELEASE, REPO, SOLUTIONS, notebook_names
from .fixtures import mismatches
from .grade import format_table, grade, write_csv
from .notebooks import cell_errors, run_notebook
from .release import generate
from .report import write_summary

FIXTURES = REPO / "autograder" / "fixtures"
SOLUTION_ENV = {"COURSE_PROFILE": "fast", "COURSE_PROGRESS": "0"}


def threshold_failure(name: str, cell: str, folder: Path, message: str) -> str:
    """The calibration error of a solution that fails threshold cell ``cell``: each of the cell's
    thresholds with the value the solution's checkpoints (in ``folder``) measure and the profile's limit."""
    from course_lib.profiles import get_profile

    from .calibration import spec_for
    from .notebooks import load_functions

    try:
        spec = spec_for(name)
        thresholds = [t for t in spec.thresholds if t.cell == cell]
        if not thresholds:
            return f"calibration error: {name} {cell} failed on the solution ({message})"
        cfg = get_profile(name, "fast")
        functions = load_functions(SOLUTIONS / name / f"{name}.ipynb") if spec.uses else None
        values = spec.measure(folder, cfg, functions)
        parts = []
        for t in thresholds:
            limit = getattr(cfg, t.field) if t.field else t.fixed
            verdict = "passes" if t.passes(values[t.statistic], limit) else "FAILS"
            parts.append(f"{t.field or t.statistic}: value {values[t.statistic]:.6g} {verdict} {t.op} {limit:g}")
        return (
            f"calibration error: the solution of {name} fails {cell} ({'; '.join(parts)}); "
            f"see docs/calibration/{name}.md"
        )
    except Exception as exc:  # noqa: BLE001 - the report must still be written
        return f"calibration error: {name} {cell} failed on the solution ({message}; measuring it raised {exc!r})"


def run_solution(name: str, dest: Path, *, log=print) -> list[str]:
    """Run the solution notebook of ``name`` to its end in solutions/<name>/ (fast profile), save the executed
    notebook and its checkpoints and figures into ``dest``; return what failed."""
    nb_path = SOLUTIONS / name / f"{name}.ipynb"
    start = time.monotonic()
    log(f"running the solution of {name} (fast profile) ...")
    failures = []
    try:
        nb = run_notebook(nb_path, env=SOLUTION_ENV, save_to=dest / nb_path.name, allow_errors=True)
    except Exception as exc:  # noqa: BLE001 - a dead kernel or a cell timeout: record it, go on
        failures.append(f"{name}: the solution notebook did not run to its end: {type(exc).__name__}: {exc}"[:600])
        shutil.copy2(nb_path, dest / nb_path.name)
        nb = None
    for folder in ("checkpoints", "figures"):  # the notebook ran in solutions/<name>/
        if (SOLUTIONS / name / folder).is_dir() and not (dest / folder).exists():
            shutil.copytree(SOLUTIONS / name / folder, dest / folder)
    for err in cell_errors(nb) if nb is not None else []:
        message = f"{err['ename']}: {err['evalue']}".strip()
        if err["cell"].startswith("test_threshold_"):
            failures.append(threshold_failure(name, err["cell"], SOLUTIONS / name, message))
        else:
            failures.append(f"{name}: the solution fails {err['cell']} ({message})"[:600])
    log(f"  done in {time.monotonic() - start:.0f} s" + (f", {len(failures)} failure(s)" if failures else ""))
    return failures


def stage_submissions(names: list[str], work: Path, *, log=print) -> tuple[Path, list[str]]:
    """Build a submissions folder: the solution (run in the fast profile, with its checkpoints) and the
    blank release for each assignment, plus the fixtures staged under autograder/fixtures/ (``python -m
    autograder fixtures``), whose expected scores the demo checks. Returns it and the failures of the
    solution runs."""
    subs = work / "submissions"
    if subs.exists():
        shutil.rmtree(subs)
    failures = []
    for name in names:
        sol = subs / "solution" / name
        sol.mkdir(parents=True)
        cached = SOLUTIONS / name / "checkpoints"
        if cached.is_dir():  # reuse what an earlier run of the solution notebook trained
            shutil.copytree(cached, sol / "checkpoints")
        failures += run_solution(name, sol, log=log)
        for fixture in sorted(FIXTURES.glob(f"*/{name}")):
            if fixture.parent.name != "solution":  # the solution was just run above
                shutil.copytree(fixture, subs / fixture.parent.name / name)
        blank = subs / "blank" / name
        if not blank.exists():
            blank.mkdir(parents=True)
            shutil.copy2(RELEASE / name / f"{name}.ipynb", blank / f"{name}.ipynb")
    return subs, failures


def write_report(work: Path, names: list[str], subs: Path, table: str, failures: list[str]) -> Path:
    report = work / "report.md"  # summary.md holds the class statistics
    lines = ["# Demo report", ""]
    if failures:
        lines += [f"## {len(failures)} failure(s)", ""] + [f"- {f}" for f in failures] + [""]
    lines += [
        "Grades (fast profile; score and max count every graded cell, written answers wait for a TA in "
        "the formgrader: `python -m autograder formgrader`, rubrics in course/rubrics/):",
        "",
        "```",
        table,
        "```",
        "",
        "Class summary (pass rates, histogram, slowest): [summary.md](summary.md); "
        "grade export: [grades.csv](grades.csv); feedback: course/feedback/",
        "",
    ]
    for name in names:
        figs = sorted((subs / "solution" / name / "figures").glob("*.png"))
        if figs:
            lines += [f"## {name}", ""] + [f"![{f.stem}]({f.relative_to(work)})" for f in figs] + [""]
    report.write_text("\n".join(lines))
    return report


def main(work: Path, *, log=print) -> int:
    names = notebook_names()
    if not names:
        log("No assignments yet: solutions/ holds no <assignment>/<assignment>.ipynb. Nothing to demo.")
        return 0
    os.environ.setdefault("COURSE_PROFILE", "fast")
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    log(f"regenerating notebooks/ from solutions/ for {', '.join(names)}")
    generate(names)
    subs, failures = stage_submissions(names, work, log=log)
    course = work / "course"
    if course.exists():
        shutil.rmtree(course)
    try:
        results = grade(subs, course, log=log)
    except Exception as exc:  # noqa: BLE001 - still write the report
        results = []
        failures.append(f"grading stopped: {type(exc).__name__}: {exc}"[:600])
    table = format_table(results) if results else "(nothing graded)"
    log(table)
    write_csv(results, work / "cells.csv")
    if results:
        write_summary(results, work)
    if (course / "grades.csv").exists():
        shutil.copy2(course / "grades.csv", work / "grades.csv")
    for r in results:
        if r.student == "solution" and r.auto_score < r.auto_max:
            lost = [f"{cell} {s:g}/{m:g}" for cell, (s, m) in r.auto_cells.items() if s < m]
            failures.append(
                f"{r.assignment}: the graded solution got {r.auto_score:g}/{r.auto_max:g} of the "
                f"autograded points ({', '.join(lost)})"
            )
        if r.student == "solution" and not all(r.written.values()):
            failures.append(
                f"{r.assignment}: the solution's written answers {sorted(c for c, w in r.written.items() if not w)}"
                " do not wait for a TA's grade (the model answers were not handed in?)"
            )
    for (student, name), diff in sorted(mismatches(results).items()):
        failures.append(f"fixture {student}/{name} graded differently than expected (cell: got, expected): {diff}")
    report = write_report(work, names, subs, table, failures)
    log(
        f"report: {report}\ngrades: {work / 'grades.csv'}\nper-cell scores: {work / 'cells.csv'}\n"
        f"feedback: {course / 'feedback'}"
    )
    if failures:
        log(f"{len(failures)} failure(s):\n" + "\n".join(f"- {f}" for f in failures))
        return 1
    return 0
