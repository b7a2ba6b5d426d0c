"""What the grader stores and shows: the skeleton a submission runs as, the graded notebook nbgrader
scores, the offline feedback page, and the tampering flags (none on honest work)."""

from __future__ import annotations

import base64

import nbformat
import pytest
from nbfactory import answer_cell
from nbfactory import test_cell as graded_cell

from autograder import attacks, feedback, record, tamper
from autograder.fixtures import solved_release
from autograder.notebooks import nbgrader_meta
from course_lib.profiles import ASSIGNMENT_MODULES

ASSIGNMENTS = tuple(ASSIGNMENT_MODULES)  # every assignment, found by discovery


def _release():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Toy"),
        nbformat.v4.new_code_cell("import math"),
        answer_cell("add", "def add(a, b):\n    # YOUR CODE HERE\n    raise NotImplementedError()"),
        graded_cell("test_add", "assert add(1, 2) == 3", 2),
        answer_cell("square", "def square(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"),
        graded_cell("test_square", "assert square(3) == 9", 1),
    ]
    return nb


def test_skeleton_takes_answers_from_the_student_and_everything_graded_from_the_release():
    rel = _release()
    student = nbformat.reads(nbformat.writes(rel), as_version=4)
    student.cells[2].source = "def add(a, b):\n    return a + b"
    student.cells[3].source = "pass  # the student emptied the locked test"
    student.cells[3].metadata["nbgrader"]["points"] = 100
    del student.cells[5]  # the student deleted test_square
    fake = nbformat.v4.new_code_cell("assert True")
    fake.metadata["nbgrader"] = {
        "grade": True,
        "grade_id": "test_bonus",
        "points": 50,
        "solution": False,
        "locked": True,
        "schema_version": 3,
        "task": False,
    }
    student.cells.insert(1, fake)  # a graded cell the release does not have
    student.cells.append(nbformat.v4.new_code_cell("print('mine')"))
    skel = record.skeleton(student, rel)
    ids = [nbgrader_meta(c).get("grade_id") for c in skel.cells]
    assert ids == [None, None, None, "add", "test_add", "square", "test_square", None]
    assert skel.cells[3].source == "def add(a, b):\n    return a + b"  # the student's answer
    assert skel.cells[4].source == "assert add(1, 2) == 3" and nbgrader_meta(skel.cells[4])["points"] == 2
    assert skel.cells[6].source == "assert square(3) == 9"  # put back
    assert skel.cells[1].source == "assert True" and "nbgrader" not in skel.cells[1].metadata  # no points claimed
    assert skel.cells[7].source == "print('mine')"


def test_graded_notebook_shows_verdicts_and_only_safe_outputs():
    rel = _release()
    skel = record.skeleton(rel, rel)
    executed = nbformat.reads(nbformat.writes(skel), as_version=4)
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 20).decode()
    executed.cells[1].outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={
                "text/html": "<script>alert(1)</script>",
                "image/png": png,
                "application/javascript": "alert(2)",
                "text/plain": "ok",
            },
        ),
        nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(b"<svg>").decode()}),
        nbformat.v4.new_output("stream", name="stdout", text="x" * 50_000),
    ]
    executed.cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text="ALL TESTS PASSED")]
    verdicts = {
        "test_add": {"kind": "failed", "ename": "AssertionError", "evalue": "add(1, 2) is not 3", "stdout": "seen"},
        "test_square": {"kind": "passed", "stdout": ""},
    }
    graded = record.graded_notebook(skel, executed, verdicts, notes=["x.pt: not taken <b>"])
    outs = graded.cells[2].outputs
    assert [o.output_type for o in outs] == ["display_data", "stream"]
    assert set(outs[0].data) == {"image/png", "text/plain"} and len(outs[1].text) < 21_000
    test_add = graded.cells[4].outputs  # (a notes cell was inserted at the top)
    assert [o.output_type for o in test_add] == ["stream", "error"] and test_add[0].text == "seen"
    assert "ALL TESTS PASSED" not in str(graded)  # graded cells show the judge's output, not the student's
    assert graded.cells[6].outputs == []
    assert graded.cells[0].source.startswith("**Grading notes**") and "&lt;b&gt;" in graded.cells[0].source


def test_outputs_of_a_different_notebook_are_not_used():
    rel = _release()
    skel = record.skeleton(rel, rel)
    other = nbformat.reads(nbformat.writes(skel), as_version=4)
    other.cells[1].source = "import os"
    other.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="forged")]
    assert "forged" not in str(record.graded_notebook(skel, other, {}))


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_no_hidden_test_reaches_the_graded_notebook(name):
    from autograder import RELEASE

    rel = nbformat.read(RELEASE / name / f"{name}.ipynb", as_version=4)
    student = solved_release(name)
    graded = record.graded_notebook(record.skeleton(student, rel), None, {})
    text = nbformat.writes(graded)
    assert "BEGIN HIDDEN TESTS" not in text and "autograder.assignments" not in text


def test_student_markdown_cannot_carry_html_but_keeps_its_maths():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("<img src=x onerror=alert(1)> and $a<b$")])
    record.neutralize_markdown(nb)
    assert nb.cells[0].source.startswith("&lt;img") and "$a<b$" in nb.cells[0].source
    html = feedback.render(nb.cells[0].source)
    assert "<img" not in html and "<math" in html and "&lt;img" in html


def test_maths_render_offline_and_code_is_left_alone():
    out = feedback.render(r"inline $\beta_t$, display $$\sum_k w_k$$, code `$x$` and an escaped \$5")
    assert out.count("<math") == 2 and "`$x$`" in out and r"\$5" in out
    assert 'display="block"' in out


def test_html_export_as_nbgrader_configures_it_renders_the_maths():
    """generate_feedback registers the configured preprocessor classes on nbconvert's HTMLExporter."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    exporter.register_preprocessor(feedback.RenderMathOffline)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(r"the loss $\mathcal{L}$")])
    body, _ = exporter.from_notebook_node(nb)
    assert "<math" in body and r"$\mathcal{L}$" not in body


def test_feedback_folder_keeps_only_html_without_remote_scripts(tmp_path):
    page = tmp_path / "s" / "a" / "a.html"
    page.parent.mkdir(parents=True)
    page.write_text(
        '<html><!-- Load mathjax -->\n<script src="https://cdn.x/mathjax.js"> </script>\n'
        "<!-- End of mathjax configuration --><p>ok</p></html>"
    )
    (page.parent / "checkpoints").mkdir()
    (page.parent / "checkpoints" / "run.pt").write_bytes(b"x")
    (page.parent / "passwd").symlink_to("/etc/passwd")
    feedback.finish(tmp_path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "a.html", "s"]
    assert "<script" not in page.read_text() and "<p>ok</p>" in page.read_text()


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_honest_work_raises_no_tampering_flag(name):
    from autograder import RELEASE

    rel = nbformat.read(RELEASE / name / f"{name}.ipynb", as_version=4)
    skel = record.skeleton(solved_release(name), rel)
    cells = [
        (i, "cell", c.source)
        for i, c in enumerate(skel.cells)
        if c.cell_type == "code" and not nbgrader_meta(c).get("locked")
    ]
    assert tamper.scan(cells, []) == []  # every cell scanned, the release's own code included


@pytest.mark.parametrize(
    "snippet, expected",
    [
        (attacks.KERNEL_HOOKS, ["calls ip.set_custom_exc", "replaces sys.excepthook", "ip.events.register"]),
        (
            attacks.PATCHED_CHECKS,
            [
                "replaces torch.allclose",
                "replaces np.allclose",
                "replaces builtins.AssertionError",
                "redefines the builtin AssertionError",
            ],
        ),
        (attacks.NETWORK % {"port": 1}, ["imports ctypes", "imports socket"]),
        (attacks.DETACHED % {"course": "/c", "marker": "/m"}, ["imports subprocess"]),
        ("import os\nos._exit(1)", ["calls os._exit"]),
        ("from autograder.assignments.vae import reference as vae", ["imports from autograder.assignments.vae"]),
        ("open('/work/main/solutions/x.ipynb')", ["opens '/work/main/solutions/x.ipynb'"]),
        ("%config InlineBackend.x = 1\nx = 1", ["runs the magic or shell command '%config'"]),
    ],
)
def test_tampering_is_named(snippet, expected):
    found = tamper.scan_source(snippet, tamper.module_aliases([snippet, "import torch\nimport numpy as np"]))
    for text in expected:
        assert any(text in f for f in found), (text, found)


def test_audit_log_lines_name_the_student_cell_and_skip_garbage():
    log = (
        b'{"cell": 3, "event": "os.kill", "detail": "(1, 9)"}\nnot json\n'
        b'{"cell": 1, "event": "subprocess.Popen", "detail": "fc-list"}\n{"event": 5}\n'
    )
    assert tamper.audit_flags(log, {3: 7}) == ["cell 7 (while the notebook ran): os.kill (1, 9)"]


@pytest.mark.parametrize("snippet", ["KERNEL_HOOKS", "PATCHED_CHECKS", "STEAL", "WRITE_COURSE", "DETACHED", "NETWORK"])
def test_every_attack_is_valid_python(snippet):
    """An attack that does not even parse would test nothing (it would just fail its cell)."""
    import ast

    source = getattr(attacks, snippet)
    ast.parse(
        source % {"course": "/c", "marker": "/m", "repo": "/r", "port": 1, "short": "x"} if "%(" in source else source
    )
