"""The offline main job: release, run every solution in the fast profile, autograde, report."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from . import REPO, RELEASE, SOLUTIONS, assignments
from .fixtures import mismatches
from .grade import format_table, grade, write_csv
from .notebooks import run_notebook
from .release import generate
from .report import write_summary

FIXTURES = REPO / "autograder" / "fixtures"


def stage_submissions(names: list[str], work: Path, *, log=print) -> Path:
    """Build a submissions folder: the solution (run in the fast profile, with its checkpoints) and the
    blank release for each assignment, plus the fixtures staged under autograder/fixtures/ (``python -m
    autograder fixtures``), whose expected scores the demo checks."""
    subs = work / "submissions"
    if subs.exists():
        shutil.rmtree(subs)
    for name in names:
        sol = subs / "solution" / name
        sol.mkdir(parents=True)
        nb = SOLUTIONS / name / f"{name}.ipynb"
        cached = SOLUTIONS / name / "checkpoints"
        if cached.is_dir():  # reuse what an earlier run of the solution notebook trained
            shutil.copytree(cached, sol / "checkpoints")
        start = time.monotonic()
        log(f"running the solution of {name} (fast profile) ...")
        run_notebook(nb, env={"COURSE_PROFILE": "fast", "COURSE_PROGRESS": "0"}, save_to=sol / nb.name)
        # the notebook ran in solutions/<name>/: take its checkpoints and figures along
        for folder in ("checkpoints", "figures"):
            if (SOLUTIONS / name / folder).is_dir() and not (sol / folder).exists():
                shutil.copytree(SOLUTIONS / name / folder, sol / folder)
        log(f"  done in {time.monotonic() - start:.0f} s")
        for fixture in sorted(FIXTURES.glob(f"*/{name}")):
            if fixture.parent.name != "solution":  # the solution was just run above
                shutil.copytree(fixture, subs / fixture.parent.name / name)
        blank = subs / "blank" / name
        if not blank.exists():
            blank.mkdir(parents=True)
            shutil.copy2(RELEASE / name / nb.name, blank / nb.name)
    return subs


def main(work: Path, *, log=print) -> int:
    names = assignments()
    if not names:
        log("No assignments yet: solutions/ holds no <assignment>/<assignment>.ipynb. Nothing to demo.")
        return 0
    os.environ.setdefault("COURSE_PROFILE", "fast")
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    log(f"regenerating notebooks/ from solutions/ for {', '.join(names)}")
    generate(names)
    subs = stage_submissions(names, work, log=log)
    course = work / "course"
    if course.exists():
        shutil.rmtree(course)
    results = grade(subs, course, log=log)
    table = format_table(results)
    log(table)
    write_csv(results, work / "cells.csv")
    write_summary(results, work)
    report = work / "report.md"  # summary.md (written above) holds the class statistics
    lines = ["# Demo report", "", "Grades (fast profile):", "", "```", table, "```", "",
             "Class summary (pass rates, histogram, slowest): [summary.md](summary.md)", ""]
    for name in names:
        figs = sorted((subs / "solution" / name / "figures").glob("*.png"))
        if figs:
            lines += [f"## {name}", ""] + [f"![{f.stem}]({f.relative_to(work)})" for f in figs] + [""]
    report.write_text("\n".join(lines))
    log(f"report: {report}\ngrades: {course / 'grades.csv'}\nper-cell scores: {work / 'cells.csv'}")
    bad = [r for r in results if r.student == "solution" and r.score < r.max_score]
    if bad:
        log("the solution did not get full marks: " + ", ".join(f"{r.assignment} {r.score:g}/{r.max_score:g}" for r in bad))
    wrong = mismatches(results)
    for (student, name), diff in sorted(wrong.items()):
        log(f"fixture {student}/{name} graded differently than expected (cell: got, expected): {diff}")
    if bad or wrong:
        return 1
    return 0
