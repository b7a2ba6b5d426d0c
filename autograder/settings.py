"""nbgrader settings shared by the repository's nbgrader_config.py and the CLI's course folders."""

from __future__ import annotations

import os

# Per-cell limit while a submission's notebook runs (training cells take minutes on a laptop CPU), and
# for each threshold cell the judge evaluates.
# (the grader takes each assignment's own from its profile: settings.cell_timeout(assignment, profile))
CELL_TIMEOUT_S = int(os.environ.get("COURSE_CELL_TIMEOUT", "1200"))
# A unit-test cell of the judge (seconds of work for a correct answer): an endless loop in a student's
# function costs this much per cell that calls it.
UNIT_TIMEOUT_S = int(os.environ.get("COURSE_UNIT_TIMEOUT", "120"))


def cell_timeout(assignment: str | None = None, profile: str | None = None) -> int:
    """Seconds one cell may take: ``$COURSE_CELL_TIMEOUT`` when set (an operator's choice wins), else the
    ``cell_s`` of the assignment's profile (course_lib.profiles.grading_timeouts), else 1200."""
    raw = os.environ.get("COURSE_CELL_TIMEOUT", "").strip()
    if raw:
        return int(raw)
    if assignment is not None and profile is not None:
        from course_lib.profiles import grading_timeouts

        return grading_timeouts(assignment, profile).cell_s
    return CELL_TIMEOUT_S


def submission_timeout(assignment: str, profile: str) -> int:
    """Seconds one submission's notebook run may take: ``$COURSE_SUBMISSION_TIMEOUT`` when set, else the
    ``submission_s`` of the assignment's profile."""
    raw = os.environ.get("COURSE_SUBMISSION_TIMEOUT", "").strip()
    if raw:
        return int(raw)
    from course_lib.profiles import grading_timeouts

    return grading_timeouts(assignment, profile).submission_s


def unit_timeout() -> int:
    return int(os.environ.get("COURSE_UNIT_TIMEOUT", str(UNIT_TIMEOUT_S)))


# The profile submissions are graded in: the course's choice, never the grading machine's hardware.
GRADING_PROFILE = os.environ.get("COURSE_GRADING_PROFILE", "fast")
# Largest file (KB) nbgrader copies between course folders (the grader keeps checkpoints out of its copies).
MAX_FILE_SIZE_KB = 600_000
# Never copied between course folders by nbgrader (CourseDirectory.ignore applies to every step). The
# grader judges the submitted checkpoints itself (they stay in submitted/), so nbgrader need not copy
# them into autograded/ and feedback/.
IGNORE = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "checkpoints", "figures"]


def apply(c, *, root: str, source: str = "source", release: str = "release", db_url: str | None = None) -> None:
    """Fill the traitlets config ``c`` for a course folder at ``root``."""
    c.CourseDirectory.root = root
    c.CourseDirectory.source_directory = source
    c.CourseDirectory.release_directory = release
    c.CourseDirectory.course_id = "dgm"
    c.CourseDirectory.ignore = list(IGNORE)
    c.CourseDirectory.max_file_size = MAX_FILE_SIZE_KB
    if db_url:
        c.CourseDirectory.db_url = db_url
    c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
    c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
    # A released notebook may lose a graded cell; autograde puts the locked cells back.
    c.OverwriteCells.add_missing_cells = True
    c.Execute.timeout = CELL_TIMEOUT_S
    c.Execute.interrupt_on_timeout = True
    c.Execute.store_widget_state = False
    # Autograding never executes a notebook in nbgrader's own process: `python -m autograder grade` runs
    # it in a sandbox, judges it in a trusted process and hands nbgrader the graded notebook, which
    # InjectResults swaps in where Execute would run. (Run directly, `nbgrader autograde` refuses.)
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        ClearOutput,
        DeduplicateIds,
        LimitOutput,
        OverwriteKernelspec,
        SaveAutoGrades,
    )

    from .record import InjectResults

    c.Autograde.sanitize_preprocessors = [ClearOutput, DeduplicateIds, OverwriteKernelspec]
    # ... and refuses before it touches anything: with --force (the formgrader's autograde button),
    # nbgrader would first delete the autograded notebook that the manual grading pages show
    c.Autograde.exporter_class = _only_through_the_grader()
    c.Autograde.autograde_preprocessors = [
        InjectResults,
        LimitOutput,
        SaveAutoGrades,
        AssignLatePenalties,
        CheckCellMetadata,
    ]
    # feedback renders its maths offline (MathML) and loads nothing from the network
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    from .feedback import RenderMathOffline

    c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, RenderMathOffline]


AUTOGRADE_REFUSAL = (
    "nbgrader autograde is turned off in this course folder: it would run student code outside the "
    "sandbox. Grade with `python -m autograder grade SUBMISSIONS --course-dir COURSE_DIR` (make grade); "
    "nothing was changed."
)


def _only_through_the_grader():
    """The exporter class of ``nbgrader autograde``: refuses to start unless `python -m autograder grade` runs
    it (which sets the graded-notebook folder that :class:`autograder.record.InjectResults` reads)."""
    from nbconvert.exporters import NotebookExporter

    from .record import GRADED_DIR_ENV

    class AutogradeOnlyThroughTheGrader(NotebookExporter):
        def __init__(self, *args, **kwargs):
            if not os.environ.get(GRADED_DIR_ENV):
                raise RuntimeError(AUTOGRADE_REFUSAL)
            super().__init__(*args, **kwargs)

    return AutogradeOnlyThroughTheGrader
