"""The nbgrader pipeline on a toy assignment: release, check-release, autograde, student bundle."""

from __future__ import annotations

import shutil
import zipfile

import nbformat
import pytest
from nbfactory import toy_assignment

from autograder import __main__ as cli
from autograder import release
from autograder.grade import format_table, grade
from course_lib.profiles import get_profile

REPO = cli.REPO


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    toy_assignment(root / "solutions")
    release.generate(out=root / "notebooks", solutions=root / "solutions")
    return root


def _release_nb(toy):
    return nbformat.read(toy / "notebooks" / "00_toy" / "00_toy.ipynb", as_version=4)


def test_release_strips_solutions_and_hidden_tests(toy):
    nb = _release_nb(toy)
    text = (toy / "notebooks" / "00_toy" / "00_toy.ipynb").read_text()
    assert "return a + b" not in text and "add(-5, 5)" not in text
    assert nb.cells[2].source == "def add(a, b):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert nb.cells[3].source.strip() == "assert add(1, 2) == 3"  # the visible test stays
    assert nb.cells[3].metadata["nbgrader"]["locked"] is True
    assert release.check(solutions=toy / "solutions", release=toy / "notebooks") == []


def test_check_release_catches_stale_leaky_and_executed_notebooks(toy, tmp_path):
    shutil.copytree(toy, tmp_path / "t")
    sol, rel = tmp_path / "t" / "solutions", tmp_path / "t" / "notebooks"
    path = rel / "00_toy" / "00_toy.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].source = "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION"
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="hi")]
    nbformat.write(nb, path)
    problems = "\n".join(release.check(solutions=sol, release=rel))
    assert "differs from what solutions/ generates: run `make release`" in problems
    assert "contains '### BEGIN SOLUTION'" in problems
    assert "carry outputs" in problems
    path.unlink()
    assert "is missing: run `make release`" in "\n".join(release.check(solutions=sol, release=rel))


def _stage(subs, student, nb):
    (subs / student / "00_toy").mkdir(parents=True)
    nbformat.write(nb, subs / student / "00_toy" / "00_toy.ipynb")


@pytest.mark.slow
def test_autograde_scores_each_graded_cell(toy, tmp_path):
    subs = tmp_path / "subs"
    sol = nbformat.read(toy / "solutions" / "00_toy" / "00_toy.ipynb", as_version=4)
    _stage(subs, "perfect", sol)
    _stage(subs, "blank", _release_nb(toy))
    hardcoded = _release_nb(toy)  # passes the visible check only
    hardcoded.cells[2].source = "def add(a, b):\n    return 3"
    hardcoded.cells[4].source = "def square(x):\n    return x * x"
    _stage(subs, "hardcoded", hardcoded)
    deleted = _release_nb(toy)  # the student deleted the graded cell of square
    deleted.cells[2].source = "def add(a, b):\n    return a + b"
    del deleted.cells[5]
    _stage(subs, "deleted", deleted)
    edited = _release_nb(toy)  # the student rewrote a locked test cell to pass
    edited.cells[3].source = "assert True"
    _stage(subs, "edited", edited)

    results = {r.student: r for r in grade(subs, tmp_path / "course", solutions=toy / "solutions", log=lambda *_: None)}
    assert results["perfect"].cells == {"test_add": (2.0, 2.0), "test_square": (1.0, 1.0)}
    assert results["blank"].cells == {"test_add": (0.0, 2.0), "test_square": (0.0, 1.0)}
    assert results["hardcoded"].cells == {"test_add": (0.0, 2.0), "test_square": (1.0, 1.0)}
    assert results["deleted"].cells == {"test_add": (2.0, 2.0), "test_square": (0.0, 1.0)}
    assert results["edited"].cells == {"test_add": (0.0, 2.0), "test_square": (0.0, 1.0)}
    assert (tmp_path / "course" / "grades.csv").read_text().count("00_toy") == 5
    assert (tmp_path / "course" / "feedback" / "perfect" / "00_toy" / "00_toy.html").exists()
    table = format_table(list(results.values()))
    assert "perfect" in table and "score" in table


def test_grade_errors_are_clear(tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path / "nowhere"), "--course-dir", str(tmp_path / "c")]) == 2
    assert "no submissions folder at" in capsys.readouterr().err
    (tmp_path / "subs").mkdir()
    assert cli.main(["grade", str(tmp_path / "subs"), "--course-dir", str(cli.REPO / "inside")]) == 2
    assert "must lie outside the repository" in capsys.readouterr().err


def test_demo_with_no_assignments_says_so(tmp_path, monkeypatch):
    from autograder import demo

    monkeypatch.setattr(demo, "notebook_names", lambda: [])
    lines = []
    assert demo.main(tmp_path, log=lines.append) == 0
    assert "No assignments yet" in lines[0]


def test_demo_goes_on_past_failures_and_lists_them(tmp_path, monkeypatch):
    """A failing solution cell does not stop the demo: everything is graded, the report and grades.csv
    are written, and the exit status is 1 with each failure named (a threshold cell as a calibration error
    with the threshold, the measured value and the limit)."""
    from autograder import calibration, demo
    from autograder.calibration import Spec, Threshold
    from autograder.grade import Result

    name = "05_importance_sampling"
    monkeypatch.setattr(demo, "notebook_names", lambda: [name])
    monkeypatch.setattr(demo, "generate", lambda names: [])
    monkeypatch.setattr(demo, "FIXTURES", tmp_path / "no-fixtures")
    monkeypatch.setattr(demo, "write_summary", lambda results, work: None)

    def fake_run(path, *, env, save_to, allow_errors):
        assert allow_errors, "the demo must record failing cells, not stop at them"
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") in ("test_elbo", "test_threshold_elbo"):
                cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="wrong", traceback=[])]
        nbformat.write(nb, save_to)
        return nb

    def fake_grade(subs, course, log):
        assert (subs / "solution" / name / f"{name}.ipynb").exists() and (subs / "blank" / name).is_dir()
        course.mkdir(parents=True)
        (course / "grades.csv").write_text("student,score\n")
        cells = {"test_elbo": (0.0, 1.0), "test_log_mean_exp": (1.0, 1.0), "written_bound": (0.0, 2.0)}
        return [Result("solution", name, 1.0, 4.0, cells, 1.0, written={"written_bound": False})]

    spec = Spec(
        name,
        (Threshold("elbo", "test_threshold_elbo", ">=", "ELBO", field="min_elbo"),),
        measure=lambda folder, cfg, functions: {"elbo": -130.5},
        seed_overrides=lambda s: {},
        dry_run={},
    )
    monkeypatch.setattr(demo, "run_notebook", fake_run)
    monkeypatch.setattr(demo, "grade", fake_grade)
    monkeypatch.setattr(calibration, "spec_for", lambda n: spec)
    lines = []
    work = tmp_path / "work"
    assert demo.main(work, log=lines.append) == 1
    limit = get_profile(name, "fast").min_elbo
    assert limit > -130.5, "the stand-in measurement must fail the threshold"
    report = (work / "report.md").read_text()
    assert f"{name}: the solution fails test_elbo (AssertionError: wrong)" in report
    assert (
        f"calibration error: the solution of {name} fails test_threshold_elbo (min_elbo: value -130.5 FAILS >= {limit:g})"
        in report
    )
    assert f"{name}: the graded solution got 1/2 of the autograded points (test_elbo 0/1)" in report
    assert f"{name}: the solution's written answers ['written_bound'] do not wait for a TA's grade" in report
    assert (work / "grades.csv").read_text() == "student,score\n" and (work / "cells.csv").exists()
    assert "failure(s)" in lines[-1]


def test_student_bundle_holds_no_solutions(tmp_path):
    from autograder import REPO, bundle

    out = bundle.build(tmp_path / "bundle.zip")
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert "dgm-course/environment.yml" in names and "dgm-course/README.md" in names
        assert "dgm-course/course_lib/__init__.py" in names and "dgm-course/pyproject.toml" in names
        assert not [
            n for n in names if n.startswith(("dgm-course/solutions", "dgm-course/autograder", "dgm-course/tests"))
        ]
        assert not [n for n in names if "checkpoints/" in n or n.endswith(".pyc")]
        for name in names:
            text = zf.read(name).decode("utf-8", errors="ignore")
            for marker in release.FORBIDDEN:
                assert marker not in text, f"{name} contains {marker}"
        assert "autograder" not in zf.read("dgm-course/pyproject.toml").decode()
        zf.extractall(tmp_path / "bundle")
    released = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "notebooks").glob("*/*.ipynb"))
    assert all(f"dgm-course/{p}" in names for p in released)


def test_no_solution_body_ships_to_students(tmp_path):
    """Every answer of solutions/, as a normalised syntax tree (names renamed, docstrings dropped), is
    searched in every Python file of the bundle: none may hold one (under any variable names). The same
    search finds the reference implementations in autograder/assignments/*/reference.py, so it can find a leak."""
    from autograder import REPO, bundle, leaks

    bodies = leaks.solution_bodies(REPO / "solutions")
    assert len(bodies) >= 25
    with zipfile.ZipFile(bundle.build(tmp_path / "bundle.zip")) as zf:
        sources = {n: zf.read(n).decode() for n in zf.namelist() if n.endswith(".py")}
    assert leaks.find(sources, bodies) == []
    reference = {str(p): p.read_text() for p in (REPO / "autograder" / "assignments").glob("*/reference.py")}
    assert len(leaks.find(reference, bodies)) >= 3


def test_every_bundled_module_imports_without_the_instructor_package(tmp_path):
    """course_lib stands alone: each of its modules imports in the student bundle with `autograder`
    made unimportable (as in the grading sandbox, where it does not exist)."""
    import subprocess
    import sys

    from autograder import bundle

    with zipfile.ZipFile(bundle.build(tmp_path / "bundle.zip")) as zf:
        zf.extractall(tmp_path)
    root = tmp_path / "dgm-course"
    modules = sorted(
        ".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
        for p in (root / "course_lib").rglob("*.py")
    )
    script = (
        "import importlib, sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'autograder' or name.startswith('autograder.'):\n"
        "            raise ImportError('autograder is not available to students')\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "print('imported', len(sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "COURSE_PROFILE": "fast", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(modules) > 20


def test_repository_release_is_in_sync_and_clean():
    """notebooks/ is exactly what solutions/ generates, and nothing committed carries outputs."""
    from autograder import notebook_names

    if not notebook_names():
        pytest.skip("no assignments in solutions/ yet")
    assert release.check() == []


@pytest.mark.slow
def test_parallel_and_dask_grading_match_serial_grading(toy, tmp_path):
    from distributed import LocalCluster

    subs = tmp_path / "subs"
    sol = nbformat.read(toy / "solutions" / "00_toy" / "00_toy.ipynb", as_version=4)
    _stage(subs, "perfect", sol)
    _stage(subs, "blank", _release_nb(toy))
    half = _release_nb(toy)
    half.cells[4].source = "def square(x):\n    return x * x"
    _stage(subs, "half", half)
    quiet = dict(solutions=toy / "solutions", log=lambda *_: None)

    def summary(results):
        return {(r.student, r.assignment): (r.score, r.cells) for r in results}

    serial = summary(grade(subs, tmp_path / "serial", jobs=1, **quiet))
    parallel = summary(grade(subs, tmp_path / "parallel", jobs=2, **quiet))
    with LocalCluster(n_workers=2, processes=False, dashboard_address=None) as cluster:
        dask = summary(grade(subs, tmp_path / "dask", dask_scheduler=cluster.scheduler_address, **quiet))
    assert serial[("half", "00_toy")] == (1.0, {"test_add": (0.0, 2.0), "test_square": (1.0, 1.0)})
    assert parallel == serial and dask == serial
    # the merged gradebook exports the same grades as the serial one
    assert (tmp_path / "parallel" / "grades.csv").read_text().count("00_toy") == 3
    assert (tmp_path / "parallel" / "feedback" / "half" / "00_toy" / "00_toy.html").exists()
    assert not (tmp_path / "parallel" / ".parallel").exists()


def test_class_summary_counts_full_marks_per_cell(tmp_path):
    from autograder.grade import Result
    from autograder.report import pass_rates, write_summary

    results = [
        Result("a", "00_toy", 3, 3, {"test_add": (2, 2), "test_square": (1, 1)}, 12.0),
        Result(
            "b",
            "00_toy",
            1,
            3,
            {"test_add": (0, 2), "test_square": (1, 1)},
            40.0,
            reasons={"test_add": "AssertionError: hint"},
        ),
        Result("c", "00_toy", 1, 3, {"test_add": (1, 2), "test_square": (0, 1)}, 5.0, error="stopped after 60 s"),
    ]
    assert pass_rates(results) == {("00_toy", "test_add"): (1, 3), ("00_toy", "test_square"): (2, 3)}
    waiting = Result(
        "d",
        "00_toy",
        3,
        5,
        {"test_add": (2, 2), "test_square": (1, 1), "written_why": (0, 2)},
        1.0,
        written={"written_why": True},
    )
    assert pass_rates([waiting]) == {("00_toy", "test_add"): (1, 1), ("00_toy", "test_square"): (1, 1)}
    text = write_summary(results, tmp_path, slowest=2).read_text()
    assert "| 00_toy | test_add | 1/3 | 33% |" in text
    slow = text.split("## Slowest 2 submissions")[1]
    assert slow.index("| b |") < slow.index("| a |") and "| c |" not in slow.split("## Why")[0]
    assert "| b | 00_toy | test_add | AssertionError: hint |" in text
    assert (tmp_path / "score_histogram.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_graded_notebook_sees_the_files_submitted_with_it(toy, tmp_path):
    """Checkpoints travel with a submission into nbgrader's autograded/ folder (CourseDirectory.ignore
    applies to that copy too, so it must not list them)."""
    nb = _release_nb(toy)
    nb.cells[2].source = (
        "import json, pathlib\n"
        "_saved = json.loads(pathlib.Path('checkpoints/run.json').read_text())\n"
        "def add(a, b):\n    return a + b + _saved['offset']"
    )
    nb.cells[4].source = (
        "import torch\n_w = torch.load('checkpoints/run.pt', weights_only=True)['w']\n"
        "def square(x):\n    return x * x * int(_w.item())"
    )
    subs = tmp_path / "subs"
    _stage(subs, "ckpt", nb)
    (subs / "ckpt" / "00_toy" / "checkpoints").mkdir()
    (subs / "ckpt" / "00_toy" / "checkpoints" / "run.json").write_text('{"offset": 0}')
    import torch

    torch.save({"w": torch.tensor(1)}, subs / "ckpt" / "00_toy" / "checkpoints" / "run.pt")
    [result] = grade(subs, tmp_path / "course", solutions=toy / "solutions", log=lambda *_: None)
    assert result.cells == {"test_add": (2.0, 2.0), "test_square": (1.0, 1.0)}, result.reasons


def test_parallel_grading_splits_the_cores_between_kernels(monkeypatch):
    from autograder import grade as g

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(g.os, "cpu_count", lambda: 8)
    assert g._threads_per_job(1) == {}
    assert g._threads_per_job(2) == {"OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "4"}
    assert g._threads_per_job(16) == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert g._threads_per_job(2) == {}


def test_failure_reasons_name_the_earlier_cell_that_failed_first(tmp_path):
    from autograder.grade import cell_errors

    def code(source, error=None, grade_id=None):
        cell = nbformat.v4.new_code_cell(source)
        if grade_id:
            cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "points": 1, "solution": False}
        if error:
            cell.outputs = [nbformat.v4.new_output("error", ename=error[0], evalue=error[1], traceback=[])]
        return cell

    nb = nbformat.v4.new_notebook(
        cells=[
            code("x = 1"),
            code("assert x == 2", ("AssertionError", "x must be 2\nmore"), "test_early"),
            code("models = train()", ("CheckpointError", "checkpoint ckpt.pt is corrupt or truncated")),
            code("models['a']", ("KeyError", "'a'"), "test_late"),
            code("pass", None, "test_ok"),
        ]
    )
    nbformat.write(nb, tmp_path / "nb.ipynb")
    assert cell_errors(tmp_path / "nb.ipynb") == {
        "test_early": "AssertionError: x must be 2",
        "test_late": "KeyError: 'a' (after an earlier cell failed: CheckpointError: checkpoint ckpt.pt is corrupt or truncated)",
    }


@pytest.mark.slow
def test_the_assignments_profile_sets_how_long_a_cell_may_run(toy, tmp_path, monkeypatch):
    """Grading takes the cell timeout from the assignment's profile (register(..., timeouts=...)): a cell that
    outlives the toy's 5 s is interrupted and said so, the cells after it still run, and COURSE_CELL_TIMEOUT,
    when an operator sets it, wins."""
    from course_lib import profiles

    monkeypatch.delenv("COURSE_CELL_TIMEOUT", raising=False)
    monkeypatch.setitem(profiles._TIMEOUTS, "00_toy", {"fast": profiles.Timeouts(cell_s=5, submission_s=600)})
    nb = _release_nb(toy)
    nb.cells[2].source = "import time\ntime.sleep(60)\ndef add(a, b):\n    return a + b"  # never gets to define add
    nb.cells[4].source = "def square(x):\n    return x * x"
    subs = tmp_path / "subs"
    _stage(subs, "slow", nb)
    [result] = grade(subs, tmp_path / "course", solutions=toy / "solutions", log=lambda *_: None)
    assert result.cells == {"test_add": (0.0, 2.0), "test_square": (1.0, 1.0)}, result.reasons
    assert "limit of 5 s" in str(result.reasons.get("test_add")), result.reasons
    from autograder import settings

    assert settings.cell_timeout("00_toy", "fast") == 5
    monkeypatch.setenv("COURSE_CELL_TIMEOUT", "77")
    assert settings.cell_timeout("00_toy", "fast") == 77
