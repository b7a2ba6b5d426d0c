"""Roster in, LMS downloads collected, manifests checked, grades and feedback out (autograder.collect,
autograder.lms, autograder.intake.verify_manifest); end to end on the toy assignment."""

from __future__ import annotations

import copy
import csv
import io
import json
import stat
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import collect as col
from autograder import intake, lms
from course_lib import submit

T = "00_toy"


def _notebook(source: str = "def add(a, b):\n    return a + b") -> bytes:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    return nbformat.writes(nb).encode()


def _student_zip(tmp_path: Path, student: str, *, nb_source: str | None = None, extra: dict | None = None) -> bytes:
    """What course_lib.submit writes for the toy (no checkpoints required), optionally with extras."""
    folder = tmp_path / f"work-{student}" / T
    folder.mkdir(parents=True)
    (folder / f"{T}.ipynb").write_bytes(_notebook(nb_source) if nb_source else _notebook())
    out = submit.build(folder / f"{T}.ipynb", student=student, profile="fast", required=(), log=lambda *_: None)
    data = out.read_bytes()
    if extra:
        buf = io.BytesIO(data)
        with zipfile.ZipFile(buf, "a") as zf:
            for name, blob in extra.items():
                zf.writestr(name, blob)
        data = buf.getvalue()
    return data


def _zip(members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def _link(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# ------------------------------------------------------------------------------------ roster


def test_roster_columns_are_understood_and_bad_rows_refused(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text(
        "\ufeffStudent ID,First name,Surname,Email address,Section\n"
        "jdoe,Jane,Doe,jane@example.org,A\n\nbsmith,Bob,,bob@example.org,B\n",
        encoding="utf-8",
    )
    assert lms.read_roster(path) == [
        {"id": "jdoe", "first_name": "Jane", "last_name": "Doe", "email": "jane@example.org", "lms_user_id": None},
        {"id": "bsmith", "first_name": "Bob", "last_name": None, "email": "bob@example.org", "lms_user_id": None},
    ]
    for text, message in [
        ("name,email\nJane,j@x\n", "has no id column"),
        ("id,email\n../etc,j@x\n", "line 2: student id '../etc' must be letters"),
        ("id\njdoe\njdoe\n", "line 3: student id 'jdoe' appears twice"),
        ("", "is empty"),
    ]:
        path.write_text(text)
        with pytest.raises(lms.RosterError, match=message):
            lms.read_roster(path)


def test_roster_import_fills_the_gradebook(tmp_path):
    from nbgrader.api import Gradebook

    path = tmp_path / "roster.csv"
    path.write_text("id,first_name,last_name,email\njdoe,Jane,Doe,jane@example.org\n")
    assert lms.import_roster(path, tmp_path / "course") == ["jdoe"]
    path.write_text("id,first_name,last_name,email\njdoe,Jane,Doe-Roe,jane@example.org\nbsmith,Bob,Smith,\n")
    assert lms.import_roster(path, tmp_path / "course") == ["jdoe", "bsmith"]
    with Gradebook(f"sqlite:///{tmp_path / 'course' / 'gradebook.db'}") as gb:
        assert {(s.id, s.first_name, s.last_name, s.email) for s in gb.students} == {
            ("jdoe", "Jane", "Doe-Roe", "jane@example.org"),
            ("bsmith", "Bob", "Smith", None),
        }


# ------------------------------------------------------------------------------------ collect


def test_a_canvas_download_is_sorted_into_submission_folders(tmp_path):
    download = tmp_path / "submissions.zip"
    download.write_bytes(
        _zip(
            [
                (
                    "doejane_111_901_00_toy--jdoe.zip",
                    _student_zip(
                        tmp_path,
                        "jdoe",
                        extra={
                            "notes.txt": b"hi",
                            "../../escape.ipynb": b"{}",
                            "inner.zip": _zip([("x", b"y")]),
                            "checkpoints/run.pt": b"PK\0\0",
                        },
                    ),
                ),
                ("smithbob_LATE_222_902_00_toy-1.ipynb", _notebook()),  # a bare notebook, resubmitted (Canvas: -1)
                ("roeann_333_903_00_toy--x.zip", b"not a zip"),
                ("../../../etc/passwd", b"x"),
                ("/abs/00_toy.ipynb", b"x"),
                ("mallory_444_904_00_toy.ipynb/../../x", b"x"),
                _link("linkman_555_905_00_toy.ipynb", "/etc/shadow"),
                ("readme.txt", b"the LMS's own file"),
                ("evilname_666_906_notes.txt", b"x"),
            ]
        )
    )
    report = col.collect(download, T, tmp_path / "subs", lms="canvas")
    assert _files(tmp_path / "subs" / "111" / T) == [f"{T}.ipynb", "checkpoints/run.pt", "manifest.json"]
    assert _files(tmp_path / "subs" / "222" / T) == [f"{T}.ipynb"]
    assert sorted(report.students) == ["111", "222"]
    why = dict(report.skipped)
    assert why["doejane_111_901_00_toy--jdoe.zip:notes.txt"] == "not a file a submission needs"
    assert why["doejane_111_901_00_toy--jdoe.zip:../../escape.ipynb"] == "a path with '..', '.' or an empty part"
    assert why["doejane_111_901_00_toy--jdoe.zip:inner.zip"] == "not a file a submission needs"
    assert why["roeann_333_903_00_toy--x.zip"].startswith("not a readable zip")
    assert why["../../../etc/passwd"] == "a path with '..', '.' or an empty part"
    assert why["/abs/00_toy.ipynb"] == "an absolute path"
    assert why["mallory_444_904_00_toy.ipynb/../../x"] == "a path with '..', '.' or an empty part"
    assert why["linkman_555_905_00_toy.ipynb"] == "a symbolic link"
    assert why["readme.txt"] == "its name does not follow the canvas pattern"
    assert why["evilname_666_906_notes.txt"].startswith("not a file of a 00_toy submission")
    assert _files(tmp_path / "subs") == sorted(
        [
            f"111/{T}/{T}.ipynb",
            f"111/{T}/checkpoints/run.pt",
            f"111/{T}/manifest.json",
            f"222/{T}/{T}.ipynb",
            f".lms/{T}.json",
        ]
    )
    assert json.loads((tmp_path / "subs" / ".lms" / f"{T}.json").read_text())["prefixes"] == {
        "111": "doejane_111_901_",
        "222": "smithbob_LATE_222_902_",
    }
    # the grader's intake takes the collected folder as it is; the checkpoint added to the zip after
    # course_lib.submit packed it is named in the student's feedback and flagged
    taken = intake.take(tmp_path / "subs" / "111" / T, tmp_path / "staged", f"{T}.ipynb")
    assert taken.notebook_ok and taken.refused == []
    assert taken.notes == [
        "submission manifest: checkpoints/run.pt is not in the manifest: it was added after "
        "course_lib.submit packed the zip"
    ]


def test_moodle_blackboard_and_folder_downloads(tmp_path):
    moodle = tmp_path / "moodle.zip"
    moodle.write_bytes(
        _zip(
            [
                ("Jane Doe_4242_assignsubmission_file_/00_toy--jdoe.zip", _student_zip(tmp_path, "jdoe")),
                ("Bob Smith_4343_assignsubmission_file_/00_toy.ipynb", _notebook()),
            ]
        )
    )
    assert sorted(col.collect(moodle, T, tmp_path / "m", lms="moodle").students) == ["4242", "4343"]
    board = tmp_path / "board.zip"
    board.write_bytes(_zip([("00_toy_jdoe_attempt_2026-11-30-15-04-05_00_toy.ipynb", _notebook())]))
    col.collect(board, T, tmp_path / "b", lms="blackboard")
    assert (tmp_path / "b" / "jdoe" / T / "timestamp.txt").read_text() == "2026-11-30 15:04:05"
    folders = tmp_path / "folders.zip"
    folders.write_bytes(
        _zip(
            [
                ("jdoe/00_toy.ipynb", _notebook()),
                ("jdoe/checkpoints/run.json", b"{}"),
                ("bsmith/00_toy/00_toy.ipynb", _notebook()),
            ]
        )
    )
    folders.write_bytes(
        _zip(
            [
                ("jdoe/00_toy.ipynb", _notebook()),
                ("jdoe/checkpoints/run.json", b"{}"),
                ("bsmith/00_toy/00_toy.ipynb", _notebook()),
                ("bsmith/other/00_toy.ipynb", b"{}"),
            ]
        )
    )
    report = col.collect(folders, T, tmp_path / "f", lms="folders", dry_run=True)
    assert report.students == {"jdoe": ["00_toy.ipynb", "checkpoints/run.json"], "bsmith": ["00_toy.ipynb"]}
    assert dict(report.skipped)["bsmith/other/00_toy.ipynb"].startswith("not a file of a 00_toy submission")
    assert not (tmp_path / "f").exists(), "a dry run writes nothing"
    with pytest.raises(ValueError, match="named groups"):
        col.collect(folders, T, tmp_path / "x", regexp=r"^(?P<who>[^/]+)/(?P<file_id>.+)$")


def test_size_caps_count_the_bytes_read(tmp_path):
    """A member over the cap, a student's zip over the cap, and a small deflated zip that expands past it."""
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("00_toy.ipynb", _notebook())
        zf.writestr("checkpoints/big.pt", b"\0" * 200_000)
    download = tmp_path / "d.zip"
    download.write_bytes(
        _zip(
            [
                ("a_1_1_00_toy.ipynb", b"x" * 5000),
                ("b_2_2_00_toy--b.zip", bomb.getvalue()),
                ("c_3_3_00_toy--c.zip", _zip([("00_toy.ipynb", b"x" * 5000)])),
            ]
        )
    )
    caps = col.Caps(submission_mb=4000 / intake.MB)
    report = col.collect(download, T, tmp_path / "s", caps=caps)
    why = dict(report.skipped)
    assert why["a_1_1_00_toy.ipynb"].startswith("over the size limit")
    assert why["c_3_3_00_toy--c.zip"].startswith("over the size limit")
    assert why["b_2_2_00_toy--b.zip:checkpoints/big.pt"].startswith("past the size limit")
    assert _files(tmp_path / "s") == [f".lms/{T}.json", f"2/{T}/{T}.ipynb"]


# ------------------------------------------------------------------------------------ manifest


def _upload(tmp_path: Path, **kw) -> Path:
    folder = tmp_path / "up"
    with zipfile.ZipFile(io.BytesIO(_student_zip(tmp_path, "jdoe", **kw))) as zf:
        zf.extractall(folder)  # a trusted zip this test just made
    return folder


def test_a_matching_manifest_adds_nothing(tmp_path):
    up = _upload(tmp_path)
    taken = intake.take(up, tmp_path / "st", f"{T}.ipynb")
    assert "manifest.json" in taken.accepted and taken.notes == [] and taken.tamper == []


@pytest.mark.parametrize(
    "change, expected",
    [
        ("edit", "00_toy.ipynb differs from the file course_lib.submit packed (size or checksum)"),
        ("add", "checkpoints/extra.pt is not in the manifest"),
        ("remove", "checkpoints/gone.pt was packed by course_lib.submit but is not in the upload"),
        ("garbage", "manifest.json could not be read (JSONDecodeError"),
        ("no_files", "manifest.json does not list the files"),
        ("other_assignment", "it was made for the assignment '03_diffusion', not '00_toy'"),
    ],
)
def test_a_manifest_mismatch_is_a_note_and_a_flag_never_a_refusal(tmp_path, change, expected):
    up = _upload(tmp_path)
    manifest = json.loads((up / "manifest.json").read_text())
    if change == "edit":
        (up / f"{T}.ipynb").write_bytes(_notebook("def add(a, b):\n    return 3"))
    elif change == "add":
        (up / "checkpoints").mkdir()
        (up / "checkpoints" / "extra.pt").write_bytes(b"PK")
    elif change == "remove":
        manifest["files"]["checkpoints/gone.pt"] = {"bytes": 1, "sha256": "0" * 64}
    elif change == "garbage":
        manifest = None
        (up / "manifest.json").write_text("{not json")
    elif change == "no_files":
        manifest["files"] = ["x"]
    elif change == "other_assignment":
        manifest["assignment"] = "03_diffusion"
    if manifest is not None:
        (up / "manifest.json").write_text(json.dumps(manifest))
    taken = intake.take(up, tmp_path / "st", f"{T}.ipynb")
    assert taken.notebook_ok and f"{T}.ipynb" in taken.accepted
    assert any(expected in n for n in taken.notes), taken.notes
    assert any(expected in t and t.startswith("manifest: ") for t in taken.tamper), taken.tamper


# ------------------------------------------------------------------------------------ end to end


@pytest.mark.slow
@pytest.mark.e2e
def test_roster_lms_download_grading_manual_grades_and_comments_reach_the_exports(tmp_path):
    """Roster import, a Canvas-style download of course_lib.submit zips (one changed after packing),
    grading in the sandbox, a TA's manual score and comment (the gradebook API the formgrader uses),
    then the exports, the feedback pages and the zip to hand back."""
    from nbfactory import toy_assignment
    from nbgrader.api import Gradebook

    from autograder import release
    from autograder.grade import grade

    toy_assignment(tmp_path / "solutions", written=True)
    release.generate(out=tmp_path / "notebooks", solutions=tmp_path / "solutions")
    released = nbformat.read(tmp_path / "notebooks" / T / f"{T}.ipynb", as_version=4)

    def answer(student: str, add: str, written: str) -> Path:
        nb = copy.deepcopy(released)
        nb.cells[2].source = add
        nb.cells[4].source = "def square(x):\n    return x * x"
        nb.cells[-1].source = written
        folder = tmp_path / "students" / student / T
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{T}.ipynb")
        return submit.build(folder / f"{T}.ipynb", student=student, profile="fast", required=(), log=lambda *_: None)

    jane = answer("jdoe", "def add(a, b):\n    return a + b", "Addition is commutative.")
    bob = answer("bsmith", "def add(a, b):\n    return b + a", "Because.")
    # Bob edits his notebook after packing: the zip is rebuilt by hand with the old manifest
    with zipfile.ZipFile(bob) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members[f"{T}.ipynb"] = members[f"{T}.ipynb"].replace(b"return b + a", b"return a + b")
    download = tmp_path / "canvas.zip"
    download.write_bytes(
        _zip(
            [
                ("doejane_111_901_" + jane.name, jane.read_bytes()),
                ("smithbob_222_902_" + bob.name, _zip(list(members.items()))),
            ]
        )
    )
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "id,first_name,last_name,email\n111,Jane,Doe,jane@example.org\n222,Bob,Smith,bob@example.org\n"
        "333,Ann,Roe,ann@example.org\n"
    )
    course, subs = tmp_path / "course", tmp_path / "subs"
    assert lms.import_roster(roster, course) == ["111", "222", "333"]
    report = col.collect(download, T, subs, lms="canvas")
    assert sorted(report.students) == ["111", "222"] and report.skipped == []
    results = {r.student: r for r in grade(subs, course, solutions=tmp_path / "solutions", log=lambda *_: None)}
    assert results["111"].cells == {"test_add": (2.0, 2.0), "test_square": (1.0, 1.0), "explain_add": (0.0, 2.0)}
    assert results["111"].tamper == [] and results["111"].notes == []
    assert any("00_toy.ipynb differs from the file course_lib.submit packed" in n for n in results["222"].notes)
    assert any(t.startswith("manifest: 00_toy.ipynb differs") for t in results["222"].tamper)

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nb = gb.find_submission(T, "111").notebooks[0]
        grade_row = next(g for g in nb.grades if g.name == "explain_add")
        assert grade_row.needs_manual_grade
        grade_row.manual_score = 1.5
        next(c for c in nb.comments if c.name == "explain_add").manual_comment = "Good; say why, too."
        gb.db.commit()
    out = lms.export(course)
    rows = list(csv.DictReader(out["grades.csv"].open()))
    jane_row = next(r for r in rows if r["student_id"] == "111")
    assert (jane_row["first_name"], jane_row["last_name"], jane_row["email"]) == ("Jane", "Doe", "jane@example.org")
    assert float(jane_row["score"]) == 4.5 and float(jane_row["max_score"]) == 5.0
    assert next(r for r in rows if r["student_id"] == "333")["score"] == "0.0"  # on the roster, no submission
    cells = {(r["student_id"], r["cell"]): r for r in csv.DictReader(out["grades_by_cell.csv"].open())}
    assert cells[("111", "explain_add")]["manual_score"] == "1.5"
    assert cells[("111", "explain_add")]["comment"] == "Good; say why, too."
    canvas = list(csv.reader(out["canvas.csv"].open()))
    assert canvas[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] and canvas[0][5] == T
    assert ["Doe, Jane", "", "111", "jane@example.org", "", "4.5"] in canvas
    moodle = {r["ID number"]: r for r in csv.DictReader(out["moodle.csv"].open())}
    assert moodle["111"][T] == "4.5" and moodle["111"][f"{T} feedback"] == "explain_add: Good; say why, too."

    lms.regenerate_feedback(course)
    page = (course / "feedback" / "111" / T / f"{T}.html").read_text()
    assert "Good; say why, too." in page and "<script src=" not in page
    back = lms.return_feedback(course, T, tmp_path / "back.zip", submissions=subs)
    with zipfile.ZipFile(back) as zf:
        assert sorted(zf.namelist()) == [
            "doejane_111_901_00_toy-feedback.html",
            "smithbob_222_902_00_toy-feedback.html",
        ]
