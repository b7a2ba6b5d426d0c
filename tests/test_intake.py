"""Uploads are untrusted archives: only regular files of the allowed kinds are taken, everything else
is refused with a reason, and nothing outside the upload is ever read."""

from __future__ import annotations

import os
import socket

import nbformat
import pytest

from autograder import intake


def _upload(tmp_path):
    up = tmp_path / "upload"
    (up / "checkpoints").mkdir(parents=True)
    (up / "figures").mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), up / "hw.ipynb")
    (up / "checkpoints" / "run.pt").write_bytes(b"PK" + b"\0" * 100)
    (up / "checkpoints" / "run.json").write_text("{}")
    (up / "figures" / "a.png").write_bytes(b"\x89PNG")
    return up


def test_the_allowed_files_are_copied_and_nothing_else(tmp_path):
    up = _upload(tmp_path)
    (up / "notes.txt").write_text("hi")
    (up / ".hidden").write_text("x")
    (up / "checkpoints" / "extra.npz").write_bytes(b"x")
    (up / ".ipynb_checkpoints").mkdir()
    report = intake.take(up, tmp_path / "staged", "hw.ipynb")
    assert sorted(report.accepted) == ["checkpoints/run.json", "checkpoints/run.pt", "figures/a.png", "hw.ipynb"]
    refused = dict(report.refused)
    assert "notes.txt" in refused and "checkpoints/extra.npz" in refused and ".hidden" in refused
    assert sorted(
        p.relative_to(tmp_path / "staged").as_posix() for p in (tmp_path / "staged").rglob("*") if p.is_file()
    ) == sorted(report.accepted)
    assert report.notebook_ok and not report.tamper
    assert oct(os.stat(tmp_path / "staged" / "hw.ipynb").st_mode & 0o777) == "0o644"  # readable by the sandbox user


def test_links_and_special_files_are_refused_and_never_followed(tmp_path):
    up = _upload(tmp_path)
    secret = tmp_path / "secret.pt"
    secret.write_text("the instructor's secret")
    (up / "checkpoints" / "link.pt").symlink_to(secret)
    (up / "checkpoints" / "dangling.pt").symlink_to(tmp_path / "missing")
    (up / "figures" / "zero.png").symlink_to("/dev/zero")
    (up / "etc").symlink_to("/etc", target_is_directory=True)
    os.mkfifo(up / "checkpoints" / "fifo.pt")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(up / "checkpoints" / "s.pt"))
    report = intake.take(up, tmp_path / "staged", "hw.ipynb")
    refused = dict(report.refused)
    for path in ("checkpoints/link.pt", "checkpoints/dangling.pt", "figures/zero.png", "etc"):
        assert refused[path] == "a symbolic link, not a regular file", (path, refused)
    assert refused["checkpoints/fifo.pt"] == "a FIFO, not a regular file"
    assert refused["checkpoints/s.pt"] == "a socket, not a regular file"
    staged = "".join(p.read_text(errors="replace") for p in (tmp_path / "staged").rglob("*") if p.is_file())
    assert "secret" not in staged
    assert any("symbolic link" in t for t in report.tamper)
    sock.close()


def test_sizes_names_and_totals(tmp_path):
    up = _upload(tmp_path)
    with open(up / "checkpoints" / "huge.pt", "wb") as f:
        f.truncate(3 * 2**30)  # sparse: refused from its size, never read
    (up / "checkpoints" / "bad name?.pt").write_bytes(b"x")
    caps = intake.Caps(total_mb=0.0001, files=200)
    report = intake.take(up, tmp_path / "staged", "hw.ipynb", caps=caps)
    refused = dict(report.refused)
    assert refused["checkpoints/huge.pt"].startswith("3072.0 MiB, over the 600 MiB limit for a checkpoint")
    assert "characters other than" in refused["checkpoints/bad name?.pt"]
    assert any("over the submission's limit" in why for why in refused.values())


def test_shadowing_modules_are_refused_and_flagged(tmp_path):
    up = _upload(tmp_path)
    for name in ("scipy", "course_lib", "mypkg"):
        (up / name).mkdir()
        (up / name / "__init__.py").write_text("")
    (up / "numpy.py").write_text("")
    report = intake.take(up, tmp_path / "staged", "hw.ipynb")
    refused = dict(report.refused)
    assert "named like the Python module 'scipy'" in refused["scipy/"]
    assert "named like the Python module 'course_lib'" in refused["course_lib/"]
    assert refused["mypkg/"].startswith("a folder")
    assert any("scipy" in t and "shadowing" in t for t in report.tamper)
    assert any("numpy.py" in t for t in report.tamper)
    assert not (tmp_path / "staged" / "scipy").exists()


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "does not hold a notebook"),
        (b'{"cells": "x", "nbformat": 4}', "does not hold a notebook"),
    ],
)
def test_a_broken_notebook_is_reported(tmp_path, content, problem):
    up = _upload(tmp_path)
    (up / "hw.ipynb").write_bytes(content)
    report = intake.take(up, tmp_path / "staged", "hw.ipynb")
    assert problem in report.notebook_error and "hw.ipynb" not in report.accepted


def test_a_missing_notebook_or_a_linked_upload(tmp_path):
    up = _upload(tmp_path)
    (up / "hw.ipynb").unlink()
    assert intake.take(up, tmp_path / "s1", "hw.ipynb").notebook_error == "no hw.ipynb in the upload"
    link = tmp_path / "link"
    link.symlink_to(up, target_is_directory=True)
    assert (
        intake.take(link, tmp_path / "s2", "hw.ipynb").notebook_error == "the upload is a symbolic link, not a folder"
    )
