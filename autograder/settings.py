"""nbgrader settings shared by the repository's nbgrader_config.py and the CLI's course folders."""
from __future__ import annotations

import os

# Per-cell limit while executing notebooks (nbgrader reads Execute.timeout, not
# ExecutePreprocessor.timeout). Fast-profile training cells take minutes on a laptop CPU.
CELL_TIMEOUT_S = int(os.environ.get("COURSE_CELL_TIMEOUT", "1200"))
# Files nbgrader copies along with a notebook: checkpoints of the full profile can be large (KB).
MAX_FILE_SIZE_KB = 600_000  # above course_lib.checkpoints.DEFAULT_MAX_BYTES, so the loader (not a silent skip) refuses oversized ones
# Never copied between course folders. CourseDirectory.ignore applies to every step, autograde's copy
# of submitted/ to autograded/ included, so it must NOT list checkpoints: graded notebooks need the
# checkpoints students submit. The CLI keeps run outputs out of releases by copying only the notebook
# into its scratch source folder.
IGNORE = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]
# Run outputs of the solution notebooks in solutions/: ignored only by the repository-level config,
# whose source folder is solutions/ itself (see nbgrader_config.py).
RUN_OUTPUTS = ["checkpoints", "figures"]


def apply(c, *, root: str, source: str = "source", release: str = "release", db_url: str | None = None,
          ignore_run_outputs: bool = False) -> None:
    """Fill the traitlets config ``c`` for a course folder at ``root``."""
    c.CourseDirectory.root = root
    c.CourseDirectory.source_directory = source
    c.CourseDirectory.release_directory = release
    c.CourseDirectory.course_id = "dgm"
    c.CourseDirectory.ignore = IGNORE + (RUN_OUTPUTS if ignore_run_outputs else [])
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
