"""The full profile's code path, end to end on a CPU: every solution notebook in smoke mode on fake data.

``COURSE_PROFILE=full COURSE_SMOKE=1`` keeps the full profile's data sets (CIFAR-10, CUB-200-2011,
binarized MNIST, SVHN where a run uses it), nets, extractors (Inception) and code, and shrinks only
lengths and sample counts (each profile's ``SMOKE``). The data are tests/fake_datasets.py's files in the
real formats, read by the real loaders; the Inception weights are random, in pytorch-fid's format.

What is asserted, per notebook, and why:

* every cell other than a threshold cell ran without an error: the imports, the answer and unit-test
  cells, every training cell (which saved its checkpoints), every plot and widget;
* every checkpoint the graded cells evaluate was written, under the full profile, marked as a smoke run
  (so it can neither stand in for a full run's nor be graded);
* in the threshold cells, the visible measurement computed a number (no "could not compute the value")
  and the only error, if any, is the hidden part's AssertionError: the evaluators ran on the checkpoints
  and compared. Whether the numbers pass says nothing here: the nets trained for a few steps on noise.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import fake_datasets
import pytest
from conftest import REPO, SOLUTIONS

from course_lib.profiles import ASSIGNMENT_MODULES

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ASSIGNMENTS = list(ASSIGNMENT_MODULES)  # every assignment, found by discovery
CELL_TIMEOUT = 900


@pytest.fixture(scope="module")
def fake_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("fake_full")
    env = fake_datasets.build(root)
    site = env.pop("FAKE_DATA_SITE")
    threads = os.environ.get("OMP_NUM_THREADS", "1")
    env.update(
        {
            "COURSE_PROFILE": "full",
            "COURSE_SMOKE": "1",
            "COURSE_DEVICE": "cpu",
            "COURSE_PROGRESS": "0",
            "COURSE_STATIC_WIDGETS": "1",
            "COURSE_PROFILE_OVERRIDES": "",
            "OMP_NUM_THREADS": threads,
            "PYTHONPATH": os.pathsep.join([site, str(REPO)]),
        }
    )
    return env


def _threshold_cell(cell) -> bool:
    return cell.metadata.get("nbgrader", {}).get("grade_id", "").startswith("test_threshold")


def _slowest(nb, n: int = 4) -> str:
    from datetime import datetime

    times = []
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        t = cell.metadata.get("execution", {})
        if "iopub.execute_input" in t and "shell.execute_reply" in t:
            start, end = (
                datetime.fromisoformat(t[k].replace("Z", "+00:00"))
                for k in ("iopub.execute_input", "shell.execute_reply")
            )
            label = cell.metadata.get("nbgrader", {}).get("grade_id") or f"code cell {i}"
            times.append(((end - start).total_seconds(), label))
    return ", ".join(f"{label} {s:.0f} s" for s, label in sorted(times, reverse=True)[:n])


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_full_profile_smoke(name, fake_env, tmp_path):
    from autograder.notebooks import run_notebook
    from course_lib.checkpoints import read_meta
    from course_lib.profiles import get_profile

    work = tmp_path / name
    work.mkdir()
    shutil.copy(SOLUTIONS / name / f"{name}.ipynb", work)
    start = time.perf_counter()
    nb = run_notebook(work / f"{name}.ipynb", timeout=CELL_TIMEOUT, env=fake_env, allow_errors=True)
    seconds = time.perf_counter() - start
    print(f"{name}: full profile in smoke mode on fake data, {seconds:.0f} s; slowest cells: {_slowest(nb)}")

    problems = []
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        label = cell.metadata.get("nbgrader", {}).get("grade_id") or f"code cell {i}"
        if cell.get("execution_count") is None:
            problems.append(f"{label}: not executed")
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if _threshold_cell(cell):
            if "could not compute the value" in _text(cell):
                problems.append(f"{label}: the visible measurement failed: {_text(cell)[:400]}")
            problems += [
                f"{label}: {o['ename']}: {o['evalue'][:400]}" for o in errors if o["ename"] != "AssertionError"
            ]
        else:
            problems += [f"{label}: {o['ename']}: {o['evalue'][:400]}" for o in errors]
    assert problems == []

    for run in get_profile(name, "full").graded_checkpoints():
        meta = read_meta(work / "checkpoints" / f"{run}.pt")
        assert (meta.get("profile"), meta.get("smoke")) == ("full", True), (run, json.dumps(meta)[:300])
