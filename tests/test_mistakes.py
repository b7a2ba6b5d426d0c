"""Each registered mistake (autograder/mistakes/) against the hidden tests, without nbgrader: the
solution's functions with the student's version swapped in fail exactly the unit-test cells the
registry says they lose, and the first failing message carries the registered diagnostic hint (what the
student reads in the feedback). Only the unit cells that can reach the replaced functions are run again;
the rest pass as in the solution's run.

The end-to-end grading of the same submissions (including the threshold cells) is
tests/test_grading.py; this module takes seconds per assignment and runs in ``make test-quick``.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from conftest import SOLUTIONS, solution_functions

from autograder import fixtures, mistakes

CASES = [(name, m) for name in mistakes.SHORT for m in mistakes.for_assignment(name).mistakes]


def _unit_cells(name: str) -> dict[str, str]:
    """grade_id -> source of the graded cells that need neither checkpoints nor a training run."""
    nb = nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4)
    skip = set(mistakes.for_assignment(name).checkpoint_cells)
    return {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nb.cells
        if c.cell_type == "code"
        and c.metadata.get("nbgrader", {}).get("grade")
        and "threshold" not in c.metadata["nbgrader"]["grade_id"]
        and c.metadata["nbgrader"]["grade_id"] not in skip
    }


def _dependent_cells(name: str, functions) -> set[str]:
    """Unit cells whose source names one of ``functions``, or an answer function that calls one of
    them (transitively): the only cells a change to ``functions`` can affect."""
    nb = nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4)
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("solution") and not c.metadata["nbgrader"].get("grade")
    }
    names = set(functions)
    while True:
        more = {a for a, src in answers.items() if a not in names and any(re.search(rf"\b{n}\b", src) for n in names)}
        if not more:
            break
        names |= more
    return {gid for gid, src in _unit_cells(name).items() if any(re.search(rf"\b{n}\b", src) for n in names)}


def _failures(name: str, replace: dict[str, str], only: set[str] | None = None) -> dict[str, str]:
    module = solution_functions(name)
    for source in replace.values():
        exec(source, module.__dict__)
    failed = {}
    for gid, src in _unit_cells(name).items():
        if only is not None and gid not in only:
            continue
        try:
            exec(src, dict(module.__dict__))
        except Exception as exc:  # noqa: BLE001 - a grading kernel counts any error as a failed cell
            failed[gid] = f"{type(exc).__name__}: {exc}"
    return failed


@pytest.mark.parametrize("name", sorted(mistakes.SHORT))
def test_registry_names_real_cells_and_enough_mistakes(name):
    """The registry names answer cells it replaces and graded cells it loses (what those cells then score is
    checked by running them: below, and end to end in tests/test_grading.py)."""
    cases = mistakes.for_assignment(name)
    points = fixtures.graded_points(nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4))
    answers = {
        c.metadata["nbgrader"]["grade_id"]
        for c in nbformat.read(SOLUTIONS / name / f"{name}.ipynb", 4).cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    assert len(cases.mistakes) >= 4 and "hard_coded" in cases.mistakes
    assert set(cases.checkpoint_cells) <= set(points)
    for key, m in cases.mistakes.items():
        assert set(m.replace) <= answers, key
        assert m.lost and set(m.lost) <= set(points) and m.hint, key
        assert set(m.undecided) <= set(points) and not set(m.undecided) & set(m.lost), key


@pytest.mark.parametrize("name", sorted(mistakes.SHORT))
def test_solution_passes_every_unit_cell(name):
    assert _failures(name, {}) == {}


@pytest.mark.parametrize("name,key", CASES)
def test_mistake_fails_exactly_its_unit_cells_with_its_hint(name, key):
    m = mistakes.for_assignment(name).mistakes[key]
    unit = set(_unit_cells(name))
    # the other unit cells never reach the replaced functions: they pass as in the solution's run
    dependent = _dependent_cells(name, m.replace)
    assert set(m.lost) & unit <= dependent
    failed = _failures(name, dict(m.replace), only=dependent)
    assert set(failed) == set(m.lost) & unit, failed
    first = failed[next(c for c in _unit_cells(name) if c in failed)]
    assert m.hint and m.hint in first, first


def test_fixture_kinds_are_checked(tmp_path):
    name = "05_importance_sampling"
    with pytest.raises(ValueError, match="unknown fixture kinds"):
        fixtures.stage(name, tmp_path, checkpoints=tmp_path, marker=tmp_path / "m", kinds=("nope",))
    with pytest.raises(FileNotFoundError, match="run the solution notebook"):
        fixtures.stage(name, tmp_path, checkpoints=tmp_path, marker=tmp_path / "m")
    with pytest.raises(KeyError, match="no mistakes registered"):
        mistakes.for_assignment("06_flows")


def test_mismatches_compare_every_asserted_cell():
    from autograder.grade import Result

    name = "02_vae"
    points = fixtures.graded_points(nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4))
    full = {c: (p, p) for c, p in points.items()}
    ok = [Result("solution", name, 0, 0, dict(full), 1.0), Result("alice", name, 0, 0, {}, 1.0)]  # alice: not a fixture
    assert fixtures.mismatches(ok) == {}
    kl = dict(
        full,
        test_vae_loss=(0.0, 2.0),
        test_threshold_vae=(0.0, 2.0),
        test_threshold_beta08=(0.0, 1.0),
        test_threshold_beta12=(0.0, 1.0),
        test_threshold_linear=(0.0, 1.0),
    )
    noisy = dict(kl, test_threshold_kl_order=(0.0, 1.0))  # undecided for this mistake: either score is fine
    assert fixtures.mismatches([Result("mistake_kl_sum_batch", name, 0, 0, noisy, 1.0)]) == {}
    too_kind = dict(kl, test_vae_loss=(2.0, 2.0))
    assert fixtures.mismatches([Result("mistake_kl_sum_batch", name, 0, 0, too_kind, 1.0)]) == {
        ("mistake_kl_sum_batch", name): {"test_vae_loss": (2.0, 0.0)}
    }
    missing = dict(full)
    del missing["test_ae_loss"]
    assert fixtures.mismatches([Result("solution", name, 0, 0, missing, 1.0)]) == {
        ("solution", name): {"test_ae_loss": (None, points["test_ae_loss"])}
    }


def test_expected_scores_and_staging_name_what_is_wrong(tmp_path, monkeypatch):
    name = "05_importance_sampling"
    with pytest.raises(
        ValueError, match=r"unknown fixture kind 'nope' for 05_importance_sampling; valid: solution, blank"
    ):
        fixtures.expected_scores(name, "nope")
    broken = mistakes.Mistake(
        {"log_mean_exp": "def log_mean_exp(y, dim):\n    return y"}, ("test_no_such_cell",), hint="x"
    )
    cases = mistakes.for_assignment(name)
    monkeypatch.setattr(
        fixtures, "for_assignment", lambda _: mistakes.Cases(name, {"oops": broken}, cases.checkpoint_cells)
    )
    with pytest.raises(
        ValueError, match=r"mistake_oops names graded cells the notebook does not have: \['test_no_such_cell'\]"
    ):
        fixtures.expected_scores(name, "mistake_oops")
    nb = nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4)
    with pytest.raises(KeyError, match=r"no answer cells \['not_a_function'\] in the release notebook"):
        fixtures._replace_answers(nb, {"not_a_function": "pass"}, name)
