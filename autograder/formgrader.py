"""``python -m autograder formgrader --course-dir C`` (``make formgrader``): JupyterLab for TAs on a graded
course folder.

JupyterLab starts *in* the course folder (nbgrader's formgrader reads ``nbgrader_config.py`` and
``gradebook.db`` from there) with the instructor view of :mod:`course_lib.lab`: the formgrader and
Create Assignment on, nbgrader's exchange lists off (this course hands out and collects through its
LMS). A TA opens each submission, reads the autograded cells (the judge's output and reasons), grades
the written answers, adds comments, and generates feedback. The formgrader's *autograde* button runs
``nbgrader autograde``, which in this course folder refuses (it would execute student code outside the
sandbox): grading is ``python -m autograder grade``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from course_lib import lab

from .record import GRADED_DIR_ENV
from .release import write_course_config


def prepare(course_dir: Path) -> Path:
    """Check that ``course_dir`` is a graded course folder and refresh its config; return it resolved."""
    course_dir = Path(course_dir).resolve()
    if not (course_dir / "gradebook.db").is_file():
        raise FileNotFoundError(
            f"no gradebook in {course_dir}: grade first (make grade SUBMISSIONS=... COURSE_DIR={course_dir})"
        )
    write_course_config(course_dir)  # points at this checkout's autograder (the folder may be older)
    return course_dir


def command(
    course_dir: Path, config: Path, extra: list[str] | tuple[str, ...] = ()
) -> tuple[list[str], dict[str, str]]:
    """The JupyterLab command line and environment changes for the formgrader on ``course_dir``."""
    lab.write_config(config, "instructor")
    argv, env = lab.command(course_dir, config, extra)
    return argv, env


def environment(changes: dict[str, str]) -> dict[str, str]:
    """The process environment for the formgrader: never the grader's graded-notebook folder (so
    nbgrader's autograde, started from the formgrader, refuses instead of recording anything)."""
    env = {**os.environ, **changes}
    env.pop(GRADED_DIR_ENV, None)
    env.pop("NBGRADER_EXECUTION", None)
    return env


def main(course_dir: Path, extra: list[str]) -> int:
    course_dir = prepare(course_dir)
    config = Path(tempfile.mkdtemp(prefix="dgm-formgrader-"))
    if getattr(os, "geteuid", lambda: -1)() == 0:
        extra = ["--allow-root", *extra]
    try:
        argv, changes = command(course_dir, config, extra)
        print(
            f"formgrader on {course_dir}: in JupyterLab, Nbgrader > Formgrader (or open /formgrader); stop with Ctrl+C",
            flush=True,
        )
        pages = sorted((course_dir / "rubrics").glob("*.md"))
        if pages:
            print(
                "rubrics of the written answers (model answers and criteria): " + ", ".join(str(p) for p in pages),
                flush=True,
            )
        try:
            return subprocess.call(argv, cwd=course_dir, env=environment(changes))
        except KeyboardInterrupt:
            return 0
    finally:
        shutil.rmtree(config, ignore_errors=True)
