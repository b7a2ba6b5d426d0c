"""Generate the student release from solutions/ and check that notebooks/ matches it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from . import RELEASE, SOLUTIONS, notebook_names, rubrics

FORBIDDEN = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def nbgrader(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float | None = None
) -> subprocess.CompletedProcess:
    """Run the nbgrader command line of this Python environment in course folder ``cwd`` (trusted work
    only: releases, recording verdicts, feedback, export; it never executes a student's notebook).

    Args:
        timeout: wall-clock seconds; on expiry the whole process group is killed and
            ``subprocess.TimeoutExpired`` raised.
    """
    run_env = dict(os.environ if env is None else env)
    # the gradebook shells out to alembic: the environment's bin/ must be on PATH
    run_env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + run_env.get("PATH", "")
    repo = str(Path(__file__).resolve().parent.parent)
    run_env["PYTHONPATH"] = repo + os.pathsep + run_env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "nbgrader", *args]
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=run_env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def write_course_config(course: Path, *, source: str = "source", release: str = "release") -> None:
    """Write an nbgrader_config.py into a scratch course folder, with the course's shared settings."""
    repo = Path(__file__).resolve().parent.parent
    course.mkdir(parents=True, exist_ok=True)
    (course / "nbgrader_config.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(repo)!r})\n"
        "from autograder import settings\n"
        "c = get_config()\n"
        f"settings.apply(c, root={str(course)!r}, source={source!r}, release={release!r})\n"
    )


def normalize(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip outputs, execution counts and widget state, so that a notebook's file is reproducible."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in ("execution", "collapsed", "scrolled", "jp-MarkdownHeadingCollapsed"):
            cell.metadata.pop(key, None)
        cell.pop("id", None)
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("toc", None)
    nb.metadata.pop("vscode", None)
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.nbformat_minor = 4
    return nb


def generate(names: list[str] | None = None, out: Path = RELEASE, *, solutions: Path = SOLUTIONS) -> list[Path]:
    """Run nbgrader generate_assignment for each assignment; write normalized notebooks under ``out``."""
    names = names or notebook_names(solutions)
    written = []
    with tempfile.TemporaryDirectory(prefix="dgm-release-") as tmp:
        course = Path(tmp)
        write_course_config(course)
        for name in names:
            src = solutions / name / f"{name}.ipynb"
            if not src.is_file():
                raise FileNotFoundError(f"no solution notebook at {src}")
            (course / "source" / name).mkdir(parents=True)
            shutil.copy2(src, course / "source" / name / src.name)
            proc = nbgrader(["generate_assignment", name, "--force", "--log-level=WARN"], cwd=course)
            generated = course / "release" / name / src.name
            if proc.returncode != 0 or not generated.is_file():
                raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n{proc.stdout}\n{proc.stderr}")
            nb = normalize(nbformat.read(generated, as_version=4))
            target = out / name / src.name
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, target)
            written.append(target)
    return written


def check(names: list[str] | None = None, *, solutions: Path = SOLUTIONS, release: Path = RELEASE) -> list[str]:
    """Problems that make the release unfit to hand out (an empty list when it is in sync and clean)."""
    names = names or notebook_names(solutions)
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dgm-check-") as tmp:
        fresh = generate(names, out=Path(tmp), solutions=solutions)
        for path in fresh:
            committed = release / path.parent.name / path.name
            if not committed.is_file():
                problems.append(f"{committed} is missing: run `make release`")
            elif committed.read_text() != path.read_text():
                problems.append(f"{committed} differs from what solutions/ generates: run `make release`")
    for name in names:
        source, committed = solutions / name / f"{name}.ipynb", release / name / f"{name}.ipynb"
        source_nb = nbformat.read(source, as_version=4)
        problems += [f"{source}: {p}" for p in rubrics.problems(source_nb)]
        if committed.is_file():
            problems += [f"{committed}: {p}" for p in rubrics.leaks(source_nb, nbformat.read(committed, as_version=4))]
    for path in sorted(release.glob("*/*.ipynb")):
        if path.parent.name not in notebook_names(solutions):
            problems.append(f"{path} has no solution notebook in solutions/: remove it or add its source")
        problems += [f"{path}: {p}" for p in leaks(path)]
    for path in sorted(solutions.glob("*/*.ipynb")):
        problems += [f"{path}: {p}" for p in outputs(path)]
    return problems


def leaks(path: Path) -> list[str]:
    """Solution code, hidden tests or outputs in a notebook meant for students."""
    text = path.read_text()
    found = [f"contains {marker!r}" for marker in FORBIDDEN if marker in text]
    return found + outputs(path)


def outputs(path: Path) -> list[str]:
    """Outputs or execution counts committed in a notebook."""
    nb = nbformat.read(path, as_version=4)
    bad = [
        i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))
    ]
    return [f"cells {bad} carry outputs: clear them before committing"] if bad else []
