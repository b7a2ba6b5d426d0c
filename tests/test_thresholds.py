"""The visible part of every threshold cell shows the number the grader decides on.

On the solution (its functions and the checkpoints its fast-profile run trained), each value the visible
part of a ``test_threshold_*`` cell reports (course_lib's harness with the student's own functions) equals
the value the calibration measures with the instructors' references (autograder/assignments/<short>/calibration.py,
the evaluators the hidden parts call), threshold by threshold. Plus: course_lib holds no reference
implementation of a student function, and no visible cell imports autograder.
"""

from __future__ import annotations

import ast
import math
import os
import re

import nbformat
import pytest
from conftest import REPO, SOLUTIONS, solution_checkpoints, solution_functions

from autograder.calibration import spec_for
from autograder.mistakes import SHORT
from course_lib.profiles import get_profile

NAMES = list(SHORT)


def _visible(source: str) -> str:
    return source.split("### BEGIN HIDDEN TESTS")[0]


def _threshold_cells(name: str) -> dict[str, str]:
    nb = nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4)
    return {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nb.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("test_threshold_")
    }


def _state(name: str, ns: dict) -> None:
    """The notebook state the visible parts read besides the first cell (data sets, the schedule)."""
    cfg = ns["cfg"]
    if name == "02_vae":
        ns["val_images"] = ns["load_images"](cfg.dataset, "val", image_size=cfg.image_size)
    elif name == "03_diffusion":
        ns["schedule"] = ns["make_schedule"](ns["beta_schedule"](cfg.schedule, cfg.timesteps))
    elif name == "04_simsiam":
        ns["train_set"], ns["heldout_set"] = ns["profile_data"](cfg)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_visible_value_equals_the_graded_one_on_the_solution(name, monkeypatch):
    spec = spec_for(name)
    folder = solution_checkpoints(name).parent
    module = solution_functions(name)
    ns = dict(module.__dict__)
    _state(name, ns)
    reported = []

    def report(what, value, op, limit):
        reported.append((what, float(value), op, limit))
        return True

    ns["report"] = report
    monkeypatch.chdir(folder)
    cells = _threshold_cells(name)
    assert set(cells) == set(spec.cells), "every threshold cell has a calibration spec, and no other cell"
    graded = spec.measure(folder, get_profile(name, "fast"), module)
    for cell, source in cells.items():
        reported.clear()
        exec(compile(_visible(source), f"{name}:{cell}", "exec"), ns)
        thresholds = [t for t in spec.thresholds if t.cell == cell]
        assert len(reported) == len(thresholds), f"{cell}: the visible part reports {len(reported)} values"
        for (what, value, op, limit), t in zip(reported, thresholds):
            cfg = ns["cfg"]
            assert op == t.op and limit == (getattr(cfg, t.field) if t.field else t.fixed), (cell, what)
            assert math.isclose(value, graded[t.statistic], rel_tol=1e-4, abs_tol=1e-6), (
                f"{cell}: the visible part shows {value} for {t.statistic}, the grader measures {graded[t.statistic]}"
            )


@pytest.mark.parametrize("name", NAMES)
def test_visible_cells_do_not_import_autograder(name):
    nb = nbformat.read(REPO / "notebooks" / name / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not re.search(r"\b(import|from)\s+autograder", cell.source), cell.source[:200]


def test_course_lib_defines_no_student_function_and_never_imports_autograder():
    """No function of course_lib has the name of a function a student writes, and no module imports
    autograder (which students do not get)."""
    student = set()
    for name in NAMES:
        nb = nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4)
        student |= {
            c.metadata["nbgrader"]["grade_id"]
            for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("solution") and not c.metadata["nbgrader"].get("grade")
        }
    defined, importers = {}, []
    for path in (REPO / "course_lib").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in student:
                defined[node.name] = os.path.relpath(path, REPO)
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if any(m == "autograder" or m.startswith("autograder.") for m in mods):
                    importers.append(os.path.relpath(path, REPO))
    # same name, another thing: the DDPM noise schedule (Ho et al. 2020), not 02_vae's beta-VAE weight schedule
    defined.pop("linear_beta_schedule", None) if defined.get(
        "linear_beta_schedule"
    ) == "course_lib/diffusion.py" else None
    assert not defined, f"course_lib defines student functions: {defined}"
    allowed = {"course_lib/bench.py", "course_lib/bench_full.py"}  # instructors' benchmarks (not used by notebooks)
    assert set(importers) <= allowed, f"course_lib modules import autograder: {sorted(set(importers) - allowed)}"
