"""python -m course_lib.submit: what a student uploads, and what it refuses to pack."""

from __future__ import annotations

import ast
import json
import re
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest
import torch

from course_lib import submit
from course_lib.checkpoints import save_checkpoint
from course_lib.profiles import ASSIGNMENT_MODULES, PROFILE_NAMES, get_profile, graded_profile

REPO = Path(__file__).resolve().parent.parent
A = "05_importance_sampling"


def _folder(tmp_path: Path, runs=("vae",), profile: str = "fast") -> Path:
    """notebooks/<A>/ with the release notebook and tiny checkpoints saved like the training cells do."""
    folder = tmp_path / "notebooks" / A
    folder.mkdir(parents=True)
    shutil.copy(REPO / "notebooks" / A / f"{A}.ipynb", folder / f"{A}.ipynb")
    for run in runs:
        save_checkpoint(
            folder / "checkpoints" / f"{run}.pt", {"model": {"w": torch.zeros(3)}}, meta={"profile": profile}
        )
    return folder / f"{A}.ipynb"


def test_the_zip_holds_the_notebook_the_checkpoints_and_a_manifest(tmp_path):
    nb = _folder(tmp_path)
    out = submit.build(nb, student="jdoe", profile="fast", log=lambda *_: None)
    assert out == tmp_path / "notebooks" / f"{A}--jdoe.zip"
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == sorted(
            [f"{A}.ipynb", "checkpoints/vae.pt", "checkpoints/vae.json", "manifest.json"]
        )
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["assignment"] == A and manifest["student"] == "jdoe" and manifest["profile"] == "fast"
        for rel, entry in manifest["files"].items():
            data = zf.read(rel)
            assert entry["bytes"] == len(data) == (nb.parent / rel).stat().st_size
            assert entry["sha256"] == submit.hashlib.sha256(data).hexdigest()
        assert zf.getinfo("checkpoints/vae.pt").compress_type == zipfile.ZIP_STORED
    assert submit.build(nb, profile="fast", out_dir=tmp_path / "o", log=lambda *_: None).name == f"{A}.zip"


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing", "checkpoints/vae.pt is missing: run the notebook's training cells with COURSE_PROFILE=fast"),
        (
            "wrong_profile",
            "checkpoints/vae.pt was saved under the 'full' profile, but the course grades the 'fast' profile",
        ),
        ("no_sidecar", "checkpoints/vae.json is missing"),
        ("bare_pickle", "it is a bare pickle"),
        ("oversized", "over the 1 MiB limit"),
    ],
)
def test_refuses_with_a_message_that_says_what_to_do(tmp_path, monkeypatch, case, expected):
    nb = _folder(
        tmp_path, runs=() if case == "missing" else ("vae",), profile="full" if case == "wrong_profile" else "fast"
    )
    pt = nb.parent / "checkpoints" / "vae.pt"
    if case == "no_sidecar":
        pt.with_suffix(".json").unlink()
    if case == "bare_pickle":
        import pickle

        pt.write_bytes(pickle.dumps({"model": {}}))
    if case == "oversized":
        monkeypatch.setenv("COURSE_CHECKPOINT_MAX_MB", "1")
        pt.write_bytes(b"PK" + b"\0" * (2 << 20))
    with pytest.raises(submit.SubmissionError) as info:
        submit.build(nb, student="jdoe", profile="fast", log=lambda *_: None)
    assert expected in str(info.value)
    assert not list(tmp_path.rglob("*.zip")), "nothing is written when a check fails"


def test_cli_exit_codes_and_messages(tmp_path, capsys):
    nb = _folder(tmp_path, runs=())
    assert submit.main([str(nb), "--student", "jdoe", "--profile", "fast"]) == 1
    err = capsys.readouterr().err
    assert "not ready to submit (1 problem(s))" in err and "checkpoints/vae.pt is missing" in err
    assert submit.main([str(nb), "--student", "../x"]) == 1
    assert "use letters, digits" in capsys.readouterr().err
    save_checkpoint(nb.parent / "checkpoints" / "vae.pt", {"model": {}}, meta={"profile": "fast"})
    save_checkpoint(nb.parent / "checkpoints" / "old.pt", {"model": {}}, meta={"profile": "full"})
    assert submit.main([str(nb), "--student", "jdoe", "--profile", "fast"]) == 0
    out = capsys.readouterr().out
    assert "left out checkpoints/old.pt (no graded cell needs it)" in out and f"{A}--jdoe.zip" in out
    with zipfile.ZipFile(tmp_path / "notebooks" / f"{A}--jdoe.zip") as zf:
        assert "checkpoints/old.pt" not in zf.namelist()


def test_an_unknown_assignment_is_refused(tmp_path):
    nb = tmp_path / "hw" / "hw.ipynb"
    nb.parent.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), nb)
    with pytest.raises(submit.SubmissionError, match="not one of the course's assignments"):
        submit.build(nb, log=lambda *_: None)


def _hidden_tests(assignment: str) -> str:
    from autograder.notebooks import graded_cells, hidden_part

    nb = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    return "\n".join(hidden_part(c.source) for c in graded_cells(nb))


@pytest.mark.parametrize("assignment", sorted(ASSIGNMENT_MODULES))
def test_graded_checkpoints_are_the_ones_the_hidden_tests_read(assignment):
    """Every checkpoint a hidden threshold test opens is required, and each required one is named by a
    hidden test (as ``checkpoints/<run>.pt``, a templated path, or the run name handed to the reference)."""
    hidden = _hidden_tests(assignment)
    paths = re.findall(r"checkpoints/([^\"'/]+)\.pt", hidden)
    templates = [re.compile("^" + re.sub(r"\\\{[^}]*\\\}", r"[^/]+", re.escape(n)) + "$") for n in paths if "{" in n]
    for profile in PROFILE_NAMES:
        required = get_profile(assignment, profile).graded_checkpoints()
        assert [n for n in paths if "{" not in n and n not in required] == [], f"{assignment}: not required"
        for name in required:
            assert (
                name in paths
                or any(t.match(name) for t in templates)
                or re.search(rf"[\"']{re.escape(name)}[\"']", hidden)
            ), f"{assignment}: no hidden test reads {name}"


def test_the_student_tools_never_import_the_instructors_package():
    for path in [
        REPO / "course_lib" / "submit.py",
        REPO / "course_lib" / "lab.py",
        *(REPO / "course_lib" / "profiles").glob("*.py"),
        *(REPO / "course_lib" / "assignments").rglob("*.py"),
    ]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.split(".")[0] == "autograder" for n in names), f"{path} imports autograder"


def test_student_and_grader_agree_on_names_and_the_graded_profile(monkeypatch):
    from autograder import intake, settings

    assert submit.NAME.pattern == intake.NAME.pattern
    assert submit.MANIFEST == intake.MANIFEST
    # both read $COURSE_GRADING_PROFILE (the grader at import) with the same default
    assert settings.GRADING_PROFILE == settings.os.environ.get("COURSE_GRADING_PROFILE", graded_profile({}))
    monkeypatch.delenv("COURSE_GRADING_PROFILE", raising=False)
    assert graded_profile() == "fast"
    monkeypatch.setenv("COURSE_GRADING_PROFILE", "full")
    assert graded_profile() == "full"
    monkeypatch.setenv("COURSE_GRADING_PROFILE", "slow")
    with pytest.raises(ValueError, match="unknown COURSE_GRADING_PROFILE 'slow'"):
        graded_profile()


def test_the_default_profile_on_a_gpu_says_so_loudly_once(monkeypatch, capsys):
    import course_lib.profiles as profiles

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *_: "Fake GPU 80GB")
    monkeypatch.setattr(profiles, "_announced", set())
    monkeypatch.delenv("COURSE_GRADING_PROFILE", raising=False)
    assert profiles.active_profile_name({}) == "full"
    err = capsys.readouterr().err
    assert "COURSE_PROFILE is not set and a GPU is available (Fake GPU 80GB): this runs the FULL profile" in err
    assert "01_gan about 70 min" in err and "grades the 'fast' profile" in err and "COURSE_PROFILE=fast" in err
    assert profiles.active_profile_name({}) == "full"
    assert capsys.readouterr().err == "", "printed once per process"
    monkeypatch.setattr(profiles, "_announced", set())
    assert profiles.active_profile_name({"COURSE_PROFILE": "full"}) == "full"
    assert profiles.active_profile_name({"COURSE_PROFILE": "fast"}) == "fast"
    assert capsys.readouterr().err == "", "quiet when COURSE_PROFILE is set (CI, grading)"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert profiles.active_profile_name({}) == "fast" and capsys.readouterr().err == ""
    assert set(profiles.full_profile_costs()) == set(ASSIGNMENT_MODULES)
