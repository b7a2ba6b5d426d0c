"""nbgrader configuration for instructors working in this repository.

Use it from the repository root, e.g.
``nbgrader generate_assignment 05_importance_sampling --config autograder/nbgrader_config.py``:
sources live in solutions/, the student release in notebooks/. The CLI (``python -m autograder``)
uses the same settings in scratch course folders, which is what ``make release`` and ``make grade`` run.
"""

import sys
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_REPO))
(_REPO / "grading").mkdir(exist_ok=True)

from autograder import settings  # noqa: E402

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)
# solutions/<a>/ also holds the checkpoints and figures of solution runs: settings.IGNORE keeps them out
# of the release. Autograding with this config refuses to run: grade with `python -m autograder grade`,
# which runs student code only in a sandbox.
settings.apply(
    c,
    root=str(_REPO),
    source="solutions",
    release="notebooks",
    db_url=f"sqlite:///{_REPO / 'grading' / 'gradebook.db'}",
)
