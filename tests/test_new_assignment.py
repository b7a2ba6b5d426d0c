"""A sixth assignment is its own folders and nothing else (docs/ARCHITECTURE.md, "Adding an assignment").

In a copy of the repository, ``python -m autograder new-assignment 06_line`` writes the template's files; no
existing file changes. Then, with nothing else edited, the release is generated and checked, the new
assignment's solution notebook runs, its own tests pass, the shared per-assignment tests (mistakes against the
hidden tests, written answers, smoke mode, submissions, thresholds, records, devices) pick it up through
discovery and pass, and the end-to-end grading of its fixtures gives exactly the expected points. The one
test that must fail is the committed-calibration check, which says to run the calibration.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NAME = "06_line"
NEW_FILES = {
    "course_lib/assignments/line/__init__.py",
    "course_lib/assignments/line/profile.py",
    "course_lib/assignments/line/train.py",
    "course_lib/assignments/line/widgets.py",
    "autograder/assignments/line/__init__.py",
    "autograder/assignments/line/reference.py",
    "autograder/assignments/line/mistakes.py",
    "autograder/assignments/line/calibration.py",
    "solutions/06_line/06_line.ipynb",
    "tests/test_line.py",
    "docs/assignments/06_line.md",
}


def _tree(root):
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def _run(args, cwd, **kw):
    env = dict(os.environ, PYTHONPATH=str(cwd), COURSE_PROFILE="fast", COURSE_PROGRESS="0", COURSE_STATIC_WIDGETS="1")
    env.pop("COURSE_PROFILE_OVERRIDES", None)
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A copy of this checkout's files (tracked and new, as git sees them) with the new assignment added."""
    root = tmp_path_factory.mktemp("new-assignment") / "repo"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / rel)
    before = _tree(root)
    out = _run([sys.executable, "-m", "autograder", "new-assignment", NAME], root)
    assert out.returncode == 0, out.stderr
    yield root, before, _tree(root)


def test_it_adds_its_own_files_and_changes_none(repo):
    root, before, after = repo
    assert {k: v for k, v in after.items() if k in before} == before
    assert set(after) - set(before) == NEW_FILES
    again = _run([sys.executable, "-m", "autograder", "new-assignment", NAME], root)
    assert again.returncode != 0 and "exists already" in again.stderr


def test_release_tests_and_grading_pick_it_up_with_nothing_else_edited(repo):
    root, _, _ = repo
    out = _run([sys.executable, "-m", "autograder", "release", NAME], root)
    assert out.returncode == 0, out.stderr
    out = _run([sys.executable, "-m", "autograder", "check-release"], root)
    assert out.returncode == 0 and "release OK" in out.stdout, out.stdout + out.stderr
    selected = (
        f"({NAME} or test_line or no_function_defaults_to_the_cpu or course_lib_are_annotated) "
        "and not committed_calibration"
    )
    out = _run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"solutions/{NAME}/{NAME}.ipynb",
            "--nbval-lax",
            "tests/test_line.py",
            "tests/test_mistakes.py",
            "tests/test_rubrics.py",
            "tests/test_smoke_mode.py",
            "tests/test_submit.py",
            "tests/test_thresholds.py",
            "tests/test_record.py",
            "tests/test_devices.py",
            "tests/test_types.py",
            "tests/test_grading.py",
            "-k",
            f"{selected} and not attack",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        root,
        timeout=1500,
    )
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    summary = out.stdout.strip().splitlines()[-1]
    assert "passed" in summary and "failed" not in summary and "error" not in summary, summary
    # among what passed: the end-to-end grading of its fixtures (solution, blank, each mistake) with exact points
    collected = _run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_grading.py",
            "-k",
            f"{selected} and not attack",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        root,
    )
    assert f"test_every_fixture_gets_exactly_its_expected_points[{NAME}]" in collected.stdout, collected.stdout


def test_until_it_is_calibrated_the_calibration_check_says_what_to_run(repo):
    root, _, _ = repo
    out = _run(
        [sys.executable, "-m", "pytest", "tests/test_calibration.py", "-k", NAME, "-q", "-p", "no:cacheprovider"], root
    )
    assert out.returncode == 1
    assert f"run python -m autograder calibrate {NAME}" in out.stdout
