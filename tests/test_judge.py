"""The trusted judge on a small notebook: which code it runs for a cell, and its cache of threshold
verdicts (keyed by the checkpoints' bytes and the trusted code, never by anything a student says)."""

from __future__ import annotations

import json

import nbformat
from nbfactory import answer_cell
from nbfactory import test_cell as graded_cell

from autograder import sandbox
from autograder.judge import judge

LIMITS = sandbox.Limits(wall_s=300, scratch_mb=64)


def _source(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import json, pathlib\nLIMIT = 5"),
        answer_cell("f", "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
        graded_cell("test_f", "assert f(2) == 4\n### BEGIN HIDDEN TESTS\nassert f(-3) == -6\n### END HIDDEN TESTS", 1),
        graded_cell(
            "test_threshold_run",
            "print(notebook_state)  # the visible part reads the student's notebook: not run by the judge\n"
            "### BEGIN HIDDEN TESTS\n"
            "with open('evaluations.log', 'a') as log: log.write('x')\n"
            "value = json.loads(pathlib.Path('checkpoints/run.json').read_text())['value']\n"
            "assert value < LIMIT, f'value {value} is not below {LIMIT}'\n"
            "### END HIDDEN TESTS",
            2,
        ),
    ]
    path = tmp_path / "src.ipynb"
    nbformat.write(nb, path)
    return path


def test_unit_cells_run_whole_threshold_cells_their_hidden_part_and_verdicts_are_cached(tmp_path):
    source = _source(tmp_path)
    work = tmp_path / "work"
    (work / "checkpoints").mkdir(parents=True)
    (work / "checkpoints" / "run.json").write_text(json.dumps({"value": 3}))
    cache = tmp_path / "cache"
    answers = [("f", "def f(x):\n    return 2 * x")]
    first = judge(source, answers, work, cell_timeout=60, limits=LIMITS, cache=cache)["verdicts"]
    assert first["test_f"]["kind"] == "passed" and first["test_threshold_run"]["kind"] == "passed"
    again = judge(source, answers, work, cell_timeout=60, limits=LIMITS, cache=cache)["verdicts"]
    assert again["test_threshold_run"].get("cached") and (work / "evaluations.log").read_text() == "x"
    (work / "checkpoints" / "run.json").write_text(json.dumps({"value": 7}))  # other bytes: evaluated again
    third = judge(source, [("f", "def f(x):\n    return x")], work, cell_timeout=60, limits=LIMITS, cache=cache)[
        "verdicts"
    ]
    assert (work / "evaluations.log").read_text() == "xx"
    assert third["test_threshold_run"] == {
        **third["test_threshold_run"],
        "kind": "failed",
        "evalue": "value 7 is not below 5",
    }
    assert third["test_f"]["kind"] == "failed" and third["test_f"]["evalue"] == "a check of this cell failed"
