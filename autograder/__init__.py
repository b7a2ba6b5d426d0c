"""Instructor tools: nbgrader configuration, release generation and checks, grading, the demo.

Run ``python -m autograder --help``. Not shipped to students.
"""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
RELEASE = REPO / "notebooks"


def notebook_names(solutions: Path = SOLUTIONS) -> list[str]:
    """Assignment folders that have a solution notebook, in course order."""
    if not solutions.is_dir():
        return []
    return sorted(p.name for p in solutions.iterdir() if (p / f"{p.name}.ipynb").is_file())
