"""Written answers: the release hides their model answers and rubrics, check-release proves it, the
rubric pages say what a TA needs, and the grader leaves their points to the TA."""

from __future__ import annotations

import shutil

import nbformat
import pytest
from nbfactory import toy_assignment

from autograder import RELEASE, SOLUTIONS, fixtures, notebook_names, release, rubrics
from autograder.grade import Result

T = "00_toy"


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("written")
    toy_assignment(root / "solutions", written=True)
    release.generate(out=root / "notebooks", solutions=root / "solutions")
    return root


def _nb(path):
    return nbformat.read(path, as_version=4)


def test_release_shows_the_question_and_an_empty_answer(toy):
    rel = _nb(toy / "notebooks" / T / f"{T}.ipynb")
    assert rel.cells[-2].source == "Why does `add(a, b) == add(b, a)` hold?"
    assert rel.cells[-1].source == "YOUR ANSWER HERE"
    text = (toy / "notebooks" / T / f"{T}.ipynb").read_text()
    assert "commutative" not in text and "Rubric" not in text
    assert release.check(solutions=toy / "solutions", release=toy / "notebooks") == []


def test_check_release_catches_a_leaked_model_answer_and_a_rubric_that_does_not_add_up(toy, tmp_path):
    shutil.copytree(toy, tmp_path / "t")
    sol, rel = tmp_path / "t" / "solutions", tmp_path / "t" / "notebooks"
    path = rel / T / f"{T}.ipynb"
    nb = _nb(path)
    nb.cells[-2].source += "\n\nHint: a + b and b + a are the same number."
    nbformat.write(nb, path)
    problems = "\n".join(release.check(solutions=sol, release=rel))
    assert "the model answer or rubric of explain_add is in the release" in problems

    src = _nb(sol / T / f"{T}.ipynb")
    src.cells[-1].source = src.cells[-1].source.replace("- 1 point: names commutativity\n", "")
    nbformat.write(src, sol / T / f"{T}.ipynb")
    problems = "\n".join(release.check(solutions=sol, release=rel))
    assert "written answer explain_add: its rubric's criteria give 1 points, the cell 2" in problems
    src.cells[-1].source = "Addition is commutative."  # no solution region: the release would show it
    nbformat.write(src, sol / T / f"{T}.ipynb")
    assert "written answer explain_add: no ### BEGIN SOLUTION ... ### END SOLUTION region" in "\n".join(
        release.check(solutions=sol, release=rel)
    )


def test_rubric_page_holds_question_model_answer_and_criteria(toy, tmp_path):
    [page] = rubrics.write(toy / "solutions", [T], tmp_path)
    assert page == tmp_path / f"{T}.md"
    text = page.read_text()
    assert text.startswith(f"# {T}: written answers (1 questions, 2 points)")
    assert "## explain_add (2 points)" in text
    assert "Why does `add(a, b) == add(b, a)` hold?" in text
    assert "Addition of numbers is commutative: a + b and b + a are the same number." in text
    assert "- 1 point: names commutativity\n- 1 point: says a + b equals b + a" in text
    assert "BEGIN SOLUTION" not in text


def test_solution_fixture_hands_in_the_model_answer_without_the_rubric(toy):
    nb = fixtures.solved_release(T, solutions=toy / "solutions", release=toy / "notebooks")
    assert nb.cells[-1].source == "Addition of numbers is commutative: a + b and b + a are the same number."
    assert nb.cells[2].source == "def add(a, b):\n    return a + b"


def test_written_points_never_come_from_the_autograder():
    name = "05_importance_sampling"
    points = fixtures.graded_points(nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4))
    full = {c: (p, p) for c, p in points.items()}
    waiting = Result("solution", name, 0, 0, dict(full, written_x=(0.0, 2.0)), 1.0, written={"written_x": True})
    assert fixtures.mismatches([waiting]) == {}
    awarded = Result("solution", name, 0, 0, dict(full, written_x=(2.0, 2.0)), 1.0, written={"written_x": True})
    assert fixtures.mismatches([awarded]) == {("solution", name): {"written_x": (2.0, 0.0)}}
    assert waiting.auto_score == sum(points.values()) == waiting.auto_max


@pytest.mark.parametrize("name", notebook_names())
def test_every_assignment_asks_at_least_three_written_questions(name):
    """Issue 18: at least three written answers per assignment, each with a model answer and a rubric
    whose criteria give its points, and each shown empty in the release."""
    source = nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4)
    items = rubrics.written_cells(source)
    assert len(items) >= 3, [w.grade_id for w in items]
    assert rubrics.problems(source) == []
    assert all(w.grade_id.startswith("written_") and w.question and w.model_answer and w.rubric for w in items)
    released = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nbformat.read(RELEASE / name / f"{name}.ipynb", as_version=4).cells
        if c.metadata.get("nbgrader", {}).get("grade_id")
    }
    assert {w.grade_id: released.get(w.grade_id) for w in items} == {w.grade_id: "YOUR ANSWER HERE" for w in items}
