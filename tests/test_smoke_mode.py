"""Smoke mode (COURSE_SMOKE=1): the full profile with only lengths and sample counts shrunk.

The expected profiles are built with ``dataclasses.replace`` (not the library's ``override``), and the
"only lengths and counts, only smaller" rule is checked field by field against the full profile.
"""

from __future__ import annotations

import dataclasses
import importlib

import pytest
import torch

from course_lib import checkpoints
from course_lib.profiles import ASSIGNMENT_MODULES, get_profile, smoke_mode, smoke_settings

# fields where 0 means "all of them" (the whole split, every reference image)
ZERO_IS_ALL = {"train_size", "fid_max_reference", "loss_eval_size", "eval_size"}


@pytest.fixture
def smoke(monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "1")
    monkeypatch.delenv("COURSE_PROFILE_OVERRIDES", raising=False)


@pytest.mark.parametrize("value,expected", [("", False), ("0", False), ("no", False), ("1", True), ("TRUE", True)])
def test_smoke_mode_reads_the_switch(value, expected):
    assert smoke_mode({"COURSE_SMOKE": value}) is expected
    assert smoke_mode({}) is False


def test_grading_never_runs_in_smoke_mode():
    assert smoke_mode({"COURSE_SMOKE": "1", "COURSE_REQUIRE_PROFILE": "full"}) is False


def test_a_typo_in_the_switch_raises():
    with pytest.raises(ValueError, match="COURSE_SMOKE must be 1"):
        smoke_mode({"COURSE_SMOKE": "on please"})


@pytest.mark.parametrize("assignment", list(ASSIGNMENT_MODULES))
def test_smoke_is_the_full_profile_with_its_smoke_settings(assignment, smoke):
    module = importlib.import_module(f"course_lib.assignments.{ASSIGNMENT_MODULES[assignment]}.profile")
    assert module.SMOKE and smoke_settings(assignment) == module.SMOKE
    assert get_profile(assignment, "full") == dataclasses.replace(module.FULL, **module.SMOKE)
    assert get_profile(assignment, "fast") == module.FAST  # fast is left alone


@pytest.mark.parametrize("assignment", list(ASSIGNMENT_MODULES))
def test_smoke_only_shrinks_lengths_and_counts(assignment, smoke, monkeypatch):
    small = get_profile(assignment, "full")
    monkeypatch.setenv("COURSE_SMOKE", "0")
    full = get_profile(assignment, "full")
    changed = {f.name for f in dataclasses.fields(full) if getattr(full, f.name) != getattr(small, f.name)}
    assert changed == set(smoke_settings(assignment))
    for name in changed:
        before, after = getattr(full, name), getattr(small, name)
        # data sets, architectures, extractors (strings) and rates (floats) never change: only counts
        assert all(
            isinstance(v, int) and not isinstance(v, bool) for v in (before, after) if not isinstance(v, tuple)
        ), name
        before = max(before) if isinstance(before, tuple) else before
        after = max(after) if isinstance(after, tuple) else after
        if name in ZERO_IS_ALL and before == 0:
            before = float("inf")
        assert 0 < after <= before, (name, before, after)


def test_profile_overrides_apply_on_top_of_smoke(smoke, monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE_OVERRIDES", '{"02_vae": {"epochs": 3, "seed": 7}}')
    cfg = get_profile("02_vae", "full")
    assert (cfg.epochs, cfg.seed, cfg.train_size, cfg.dataset) == (3, 7, 64, "cifar10")


def test_smoke_checkpoints_are_marked_never_reused_and_never_graded(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    trained = []

    def train():
        trained.append(len(trained))
        return {"history": {"loss": [1.0]}}

    model = torch.nn.Linear(2, 1)
    monkeypatch.setenv("COURSE_SMOKE", "1")
    assert checkpoints.load_or_train(path, model, train, profile="full")["loaded"] is False
    assert checkpoints.read_meta(path)["smoke"] is True
    assert checkpoints.load_or_train(path, model, train, profile="full")["loaded"] is True  # smoke reuses smoke
    monkeypatch.setenv("COURSE_REQUIRE_PROFILE", "full")
    with pytest.raises(checkpoints.CheckpointError, match="trained in smoke mode"):
        checkpoints.load_checkpoint(path)
    monkeypatch.delenv("COURSE_REQUIRE_PROFILE")
    monkeypatch.setenv("COURSE_SMOKE", "0")
    meta = checkpoints.load_or_train(path, model, train, profile="full")  # a full run retrains
    assert meta["loaded"] is False and "smoke" not in checkpoints.read_meta(path)
    assert trained == [0, 1]
