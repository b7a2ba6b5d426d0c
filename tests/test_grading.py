"""Staged submissions graded end to end: sandboxed runs, the trusted judge, nbgrader's gradebook.

Per assignment (one module-scoped run each): the solution, the blank release, the hard-coded answer
and every common mistake of autograder/assignments/<short>/mistakes.py get exactly ``fixtures.expected_scores``
per graded cell, and each mistake's feedback shows its diagnostic and its score. The ones that carry
their checkpoints are judged without running the notebook again (``run_notebook="auto"``), the ones
that retrain run it.

On 05_importance_sampling, every attack of autograder/attacks.py is graded in one run with two honest
submissions sorted before and after them (``aaa_health``, ``zzz_health``): each attack gets exactly its
expected points, the honest ones full marks, no marker file appears, a server on the grading
machine's loopback sees no connection, processes left behind neither stretch grading nor change the
grade table afterwards, the course's own files are unchanged, feedback folders hold only HTML with no
hidden test and no remote script, and the attempts are flagged for the instructor (the honest
submissions are not).
"""

from __future__ import annotations

import html
import re
import shutil
import socket
import threading
import time

import nbformat
import pytest
from conftest import solution_checkpoints

from autograder import RELEASE, SOLUTIONS, fixtures, rubrics
from autograder.attacks import ATTACKS
from autograder.grade import grade
from autograder.mistakes import SHORT
from autograder.notebooks import hidden_part
from course_lib.checkpoints import MAX_MB_ENV

CAP_MB = 64  # above every fast-profile checkpoint (the largest is a few MB)
ATTACKED = "05_importance_sampling"
# every attack but the one that retrains (it is graded with 05's retraining fixtures, which have the default
# cell timeout): the attack run keeps a short cell timeout so the endless loop costs little
RUN_ATTACKS = [k for k in ATTACKS if not fixtures.trains(ATTACKED, k)]


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.fixture(scope="module", params=sorted(SHORT))
def graded(request, tmp_path_factory):
    name = request.param
    root = tmp_path_factory.mktemp(f"grading-{name}")
    ckpt = solution_checkpoints(name)
    assert max(p.stat().st_size for p in ckpt.glob("*.pt")) < CAP_MB * 2**20
    kinds = fixtures.assignment_kinds(name) + (("checkpoint_missing",) if name == ATTACKED else ())
    retrain = [k for k in kinds if fixtures.trains(name, k)]
    quick = [k for k in kinds if k not in retrain]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(MAX_MB_ENV, str(CAP_MB))
        fixtures.stage(name, root / "quick", checkpoints=ckpt, marker=root / "PWNED", kinds=quick)
        results = grade(root / "quick", root / "course-quick", run_notebook="auto", log=lambda *_: None)
        if retrain:
            fixtures.stage(name, root / "retrain", checkpoints=ckpt, marker=root / "PWNED", kinds=retrain)
            results += grade(root / "retrain", root / "course-retrain", log=lambda *_: None)
    yield name, {r.student: r for r in results}, root
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.e2e
@pytest.mark.slow
def test_every_fixture_gets_exactly_its_expected_points(graded):
    name, results, _ = graded
    assert set(results) == set(fixtures.assignment_kinds(name)) | (
        {"checkpoint_missing"} if name == ATTACKED else set()
    )
    assert not results["solution"].error, results["solution"].error
    wrong = fixtures.mismatches(results.values())
    assert wrong == {}, "graded differently than expected (cell: (got, expected)): " + repr(
        {k: (d, results[k[0]].reasons) for k, d in wrong.items()}
    )
    assert results["solution"].tamper == [], "honest work flagged as tampering"
    # written answers: the solution hands in its model answers, which wait for a TA; the blank's are untouched
    written = [w.grade_id for w in rubrics.written_cells(nbformat.read(SOLUTIONS / name / f"{name}.ipynb", 4))]
    assert sorted(results["solution"].written) == sorted(written)
    assert all(results["solution"].written.values()), results["solution"].written
    assert not any(results["blank"].written.values()), results["blank"].written


@pytest.mark.e2e
@pytest.mark.slow
def test_feedback_shows_points_and_the_diagnostic_but_no_hidden_test(graded):
    name, results, root = graded
    source = nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4)
    # a hidden line that the release shows anyway (as a line or inside one, e.g. in a docstring) is no leak
    released = "\n".join(c.source for c in nbformat.read(RELEASE / name / f"{name}.ipynb", as_version=4).cells)
    hidden = [
        line.strip()
        for c in source.cells
        if c.cell_type == "code"
        for line in hidden_part(c.source).splitlines()
        if len(line.strip()) > 25 and line.strip() not in released
    ]
    assert len(hidden) > 20, "too few hidden lines to look for"
    for kind, r in results.items():
        course = root / ("course-retrain" if fixtures.trains(name, kind) else "course-quick")
        folder = course / "feedback" / kind / name
        assert sorted(p.name for p in folder.iterdir()) == [f"{name}.html"], "feedback holds the HTML only"
        page = (folder / f"{name}.html").read_text()
        text = _text(page)
        assert not [line for line in hidden if line in text], f"{kind}: a hidden test's code is in the feedback"
        assert not re.search(r"<script[^>]*src=\"https?:", page), "feedback loads a remote script"
        assert "<math" in page, "the maths are not rendered offline"
        assert (
            f"Score: {r.score:g} / {r.max_score:g}" in " ".join(text.split())
            or f"{r.score:.1f} / {r.max_score:.1f}" in text
        ), (kind, r.score)
        if kind in fixtures.mistake_kinds(name):
            assert fixtures.mistake_kinds(name)[kind].hint in text, (kind, fixtures.mistake_kinds(name)[kind].hint)


def _listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    hits, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                hits.append(1)
                conn.close()
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server.getsockname()[1], hits, lambda: (stop.set(), thread.join(), server.close())


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    root = tmp_path_factory.mktemp("attacks")
    ckpt = solution_checkpoints(ATTACKED)
    port, hits, close = _listener()
    course = root / "course"
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv(MAX_MB_ENV, str(CAP_MB))
            mp.setenv("COURSE_CELL_TIMEOUT", "60")  # the endless loop costs one cell timeout (no cell trains here)
            fixtures.stage(
                ATTACKED,
                root / "subs",
                checkpoints=ckpt,
                marker=root / "PWNED",
                kinds=["solution", *RUN_ATTACKS],
                port=port,
                course_guess=course,
            )
            (root / "subs" / "solution").rename(root / "subs" / "aaa_health")
            shutil.copytree(root / "subs" / "aaa_health", root / "subs" / "zzz_health")
            start = time.monotonic()
            results = grade(root / "subs", course, jobs=2, log=lambda *_: None)
            seconds = time.monotonic() - start
        grades = (course / "grades.csv").read_bytes()
        config = (course / "nbgrader_config.py").read_bytes()
        time.sleep(25)  # the detached process would rewrite grades.csv 20 s after it started
        yield {r.student: r for r in results}, root, course, hits, grades, config, seconds
    finally:
        close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.e2e
@pytest.mark.slow
def test_every_attack_gets_exactly_its_points_and_honest_work_is_untouched(attacked):
    results, root, course, hits, *_ = attacked
    assert set(results) == {*RUN_ATTACKS, "aaa_health", "zzz_health"}
    full = {cell: (mx, mx) for cell, (_, mx) in results["aaa_health"].auto_cells.items()}
    for health in ("aaa_health", "zzz_health"):
        assert results[health].auto_cells == full and not results[health].error, (health, results[health].reasons)
        assert results[health].written and all(results[health].written.values()), "written answers wait for a TA"
        assert results[health].tamper == [], (health, results[health].tamper)
    wrong = fixtures.mismatches([r for k, r in results.items() if k in RUN_ATTACKS])
    assert wrong == {}, repr({k: (d, results[k[0]].reasons, results[k[0]].notes) for k, d in wrong.items()})


@pytest.mark.e2e
@pytest.mark.slow
def test_nothing_escapes_the_sandbox(attacked):
    results, root, course, hits, grades, config, seconds = attacked
    assert not (root / "PWNED").exists(), (root / "PWNED").read_text()
    assert hits == [], "a submission reached a server on the grading machine"
    assert (course / "grades.csv").read_bytes() == grades, "grades.csv changed after export"
    assert b"pwned" not in config and not list(course.rglob("00-pwned.py"))
    assert b"pwned" not in grades and b"1000" not in grades
    # the processes left behind hold pipes forever: the sandbox's end must not wait for them
    for kind in ("detached_process", "network", "write_course_files"):
        assert results[kind].seconds < 300, (kind, results[kind].seconds)


@pytest.mark.e2e
@pytest.mark.slow
def test_refused_checkpoints_and_uploads_say_why(attacked):
    results, root, course, *_ = attacked
    why = {
        "checkpoint_corrupt": "corrupt or truncated",
        "checkpoint_oversized": "over the",
        "checkpoint_malicious": "bare pickle",
        "checkpoint_zip_bomb": "is compressed",
    }
    cells = fixtures.for_assignment(ATTACKED).checkpoint_cells
    for kind, text in why.items():
        reasons = results[kind].reasons
        assert all(c in reasons and "CheckpointError" in reasons[c] and text in reasons[c] for c in cells), (
            kind,
            reasons,
        )
    notes = " ".join(results["upload_links"].notes)
    for path in (
        "checkpoints/passwd.pt",
        "checkpoints/zero.pt",
        "figures/dangling.png",
        "shadow.txt",
        "pipe.pt",
        "checkpoints/huge.pt",
        "odd name?.pt",
        "etc",
    ):
        assert path in notes, (path, notes)
    assert "a symbolic link, not a regular file" in notes and "a FIFO, not a regular file" in notes
    everything = b"".join(
        p.read_bytes()
        for p in course.rglob("*")
        if p.is_file() and not p.is_symlink() and p.stat().st_size < 50 * 2**20
    )
    assert b"root:x:0:0" not in everything, "a system file was copied into the course folder"
    assert not [p for p in course.rglob("*") if p.is_symlink()], "a symbolic link was copied into the course folder"
    feedback = course / "feedback"
    assert {p.suffix for p in feedback.rglob("*") if p.is_file()} == {".html"}
    page = _text((feedback / "upload_links" / ATTACKED / f"{ATTACKED}.html").read_text())
    assert "not taken from your upload: checkpoints/passwd.pt (a symbolic link, not a regular file)" in page


@pytest.mark.e2e
@pytest.mark.slow
def test_attempts_are_flagged_for_the_instructor(attacked):
    results = attacked[0]
    expect = {
        "kernel_hooks": "set_custom_exc",
        "patched_checks": "replaces torch.allclose",
        "shadow_module": "shadowing attempt",
        "read_instructor_files": "calls exec",
        "write_course_files": "gradebook.db",
        "detached_process": "subprocess.Popen",
        "network": "imports ctypes",
        "upload_links": "symbolic link",
        "kernel_dies": "os._exit",
    }
    for kind, text in expect.items():
        assert any(text in flag for flag in results[kind].tamper), (kind, results[kind].tamper)
