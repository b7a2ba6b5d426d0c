"""One calibration run, in a process of its own: execute a fixture's notebook, then measure its thresholds.

    python -m autograder.calibration.runner FOLDER/plan.json

``plan.json`` names the assignment, the fixture kind (``solution`` or a registered mistake), the seed,
the torch thread count and the profile overrides. The driver starts this process with
``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` set to that thread count and ``COURSE_PROFILE_OVERRIDES``
holding the overrides, so the notebook's kernel (which inherits the environment) and the measurement
here see the same profile. The notebook is the one the fixture hands in
(:func:`autograder.fixtures.fixture_notebook`), executed top to bottom in FOLDER with nbclient, errors
recorded and not raised (as a grading run goes on after a failing cell). The measurement is the spec's
(:mod:`autograder.calibration`), with the reference evaluators, on the checkpoints the run wrote.
Writes ``FOLDER/result.json`` and leaves the executed notebook (with its outputs) in FOLDER.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import nbformat

NOTEBOOK_ENV = {
    "COURSE_PROFILE": "fast",
    "COURSE_PROGRESS": "0",
    "COURSE_STATIC_WIDGETS": "1",
    "NBGRADER_EXECUTION": "autograde",
    "MPLBACKEND": "agg",
}


def execute(nb, path: Path, *, timeout: int) -> nbformat.NotebookNode:
    """Write ``nb`` to ``path`` and run it there (its folder is the working directory), errors allowed;
    the executed notebook (with its outputs) replaces the file."""
    from autograder.notebooks import run_notebook

    nbformat.write(nb, path)
    return run_notebook(path, timeout=timeout, env=NOTEBOOK_ENV, save_to=path, allow_errors=True)


def run(plan: dict, folder: Path) -> dict:
    """Execute and measure one run; returns (and writes) its result."""
    import torch

    from autograder.fixtures import fixture_notebook
    from autograder.notebooks import cell_errors, load_functions
    from course_lib.profiles import get_profile

    from . import spec_for

    torch.set_num_threads(plan["threads"])
    name, kind = plan["assignment"], plan["kind"]
    spec = spec_for(name)
    os.environ.update({k: v for k, v in NOTEBOOK_ENV.items() if k != "NBGRADER_EXECUTION"})
    path = folder / f"{name}.ipynb"
    if plan.get("measure_only"):  # --remeasure: the notebook ran before, its checkpoints are in folder
        nb = nbformat.read(path, as_version=4)
        notebook_s = plan["notebook_s"]
    else:
        start = time.monotonic()
        nb = execute(fixture_notebook(name, kind), path, timeout=plan.get("timeout", 1800))
        notebook_s = time.monotonic() - start
    start = time.monotonic()
    errors = cell_errors(nb)
    try:
        functions = load_functions(path, f"calibration_{kind}") if spec.uses else None
        values = {k: float(v) for k, v in spec.measure(folder, get_profile(name), functions).items()}
    except Exception as exc:  # noqa: BLE001 - a run whose checkpoints cannot be measured fails every threshold
        values = {t.statistic: math.nan for t in spec.thresholds}
        errors.append({"cell": "measure", "ename": type(exc).__name__, "evalue": str(exc)[:300]})
    result = dict(
        plan,
        values=values,
        errors=errors,
        notebook_s=round(notebook_s, 1),
        measure_s=round(time.monotonic() - start, 1),
        torch_threads=torch.get_num_threads(),
    )
    for key in ("folder", "measure_only", "timeout", "values_before"):
        result.pop(key, None)
    (folder / "result.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    plan_path = Path(argv[0])
    run(json.loads(plan_path.read_text()), plan_path.parent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
