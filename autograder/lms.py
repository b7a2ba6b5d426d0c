"""The course folder and the LMS: roster in, grades and feedback out.

* :func:`import_roster`: a roster CSV (``id``, ``first_name``, ``last_name``, ``email``; common
  spellings such as "Student ID", "First name", "Surname", "Email address" are understood) into the
  course folder's gradebook, so the formgrader and every export show names. The ``id`` is the one the
  grader's folders use: what the collect step takes from the LMS's file names (Canvas: the numeric
  user id; Moodle: the participant id; a folder per student: the folder's name).
* :func:`export`: after autograding and manual grading, ``grades.csv`` (nbgrader's own export: one row
  per student and assignment, with names and e-mail), ``grades_by_cell.csv`` (every graded cell: auto
  score, manual score, the final score, whether it still needs a manual grade, and the comments), and
  LMS imports: ``canvas.csv`` (Canvas's gradebook import columns, one column per assignment) and
  ``moodle.csv`` (Moodle's grade import: e-mail and id number to match, a grade and a feedback column per
  assignment).
* :func:`regenerate_feedback`: the feedback pages again after manual grading (they then show the manual
  scores and the comments), offline like the grader's own.
* :func:`return_feedback`: one zip of the feedback pages to hand back: under the LMS's own names when the
  submissions came through :mod:`autograder.collect` (Canvas's "Re-Upload Submissions" and Moodle's
  "Upload multiple feedback files in a zip" match those names to the students), else
  ``<student>/<assignment>.html``.
"""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

from . import intake
from .feedback import finish as finish_feedback
from .release import nbgrader, write_course_config

ROSTER_FIELDS = ("id", "first_name", "last_name", "email", "lms_user_id")
ALIASES = {
    "student_id": "id",
    "student": "id",
    "username": "id",
    "login": "id",
    "user_id": "id",
    "sis_user_id": "id",
    "first": "first_name",
    "firstname": "first_name",
    "given_name": "first_name",
    "last": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "e_mail": "email",
    "email_address": "email",
    "mail": "email",
    "lms_id": "lms_user_id",
    "canvas_id": "lms_user_id",
}


class RosterError(ValueError):
    """The roster cannot be imported; the message says which row and why."""


def _key(header: str) -> str:
    key = "".join(c if c.isalnum() else "_" for c in header.strip().lower()).strip("_")
    while "__" in key:
        key = key.replace("__", "_")
    return ALIASES.get(key, key)


def read_roster(path: Path) -> list[dict[str, str | None]]:
    """The rows of a roster CSV as ``{id, first_name, last_name, email, lms_user_id}`` (None when empty)."""
    with open(path, newline="", encoding="utf-8-sig") as f:  # utf-8-sig: spreadsheets write a BOM
        reader = csv.DictReader(f)
        if not reader.fieldnames:
            raise RosterError(f"{path} is empty: expected a header row with id, first_name, last_name, email")
        keys = [_key(h or "") for h in reader.fieldnames]
        if "id" not in keys:
            raise RosterError(
                f"{path} has no id column (its columns: {', '.join(reader.fieldnames)}); expected "
                "id, first_name, last_name, email"
            )
        rows, seen = [], set()
        for n, raw in enumerate(reader, start=2):
            row = {k: (v or "").strip() for k, v in zip(keys, (raw[h] for h in reader.fieldnames))}
            sid = row.get("id", "")
            if not sid and not any(row.values()):
                continue  # a blank line
            if not intake.NAME.match(sid):
                raise RosterError(
                    f"{path}, line {n}: student id {sid!r} must be letters, digits, '_', '-' and '.' "
                    "(it names the student's submission folder)"
                )
            if sid in seen:
                raise RosterError(f"{path}, line {n}: student id {sid!r} appears twice")
            seen.add(sid)
            rows.append({k: (row.get(k) or None) for k in ROSTER_FIELDS})
    return rows


def _gradebook(course_dir: Path):
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{Path(course_dir).resolve() / 'gradebook.db'}")


def import_roster(path: Path, course_dir: Path) -> list[str]:
    """Create or update every student of the roster in ``course_dir``'s gradebook; return their ids."""
    rows = read_roster(path)
    course_dir = Path(course_dir)
    if not (course_dir / "nbgrader_config.py").exists():
        write_course_config(course_dir)
    with _gradebook(course_dir) as gb:
        for row in rows:
            gb.update_or_create_student(row["id"], **{k: v for k, v in row.items() if k != "id"})
    return [row["id"] for row in rows]


# ------------------------------------------------------------------------------------ grades out


def _cells(gb, assignment: str, student: str) -> list[dict]:
    """Per graded or commented cell of one submission: scores and comments."""
    sub = gb.find_submission(assignment, student)
    rows = []
    for nb in sub.notebooks:
        by_name: dict[str, dict] = {}
        for g in nb.grades:
            by_name[g.name] = {
                "notebook": nb.name,
                "cell": g.name,
                "auto_score": g.auto_score,
                "manual_score": g.manual_score,
                "extra_credit": g.extra_credit,
                "score": g.score,
                "max_score": g.max_score,
                "needs_manual_grade": g.needs_manual_grade,
                "comment": "",
            }
        for c in nb.comments:
            text = c.manual_comment or c.auto_comment or ""
            row = by_name.setdefault(
                c.name,
                {
                    "notebook": nb.name,
                    "cell": c.name,
                    "auto_score": "",
                    "manual_score": "",
                    "extra_credit": "",
                    "score": "",
                    "max_score": "",
                    "needs_manual_grade": "",
                    "comment": "",
                },
            )
            row["comment"] = text
        rows += list(by_name.values())
    return rows


def export(course_dir: Path) -> dict[str, Path]:
    """Write the exports (see the module docstring) into ``course_dir``; return name -> path."""
    from nbgrader.api import MissingEntry

    course_dir = Path(course_dir).resolve()
    out = {name: course_dir / name for name in ("grades.csv", "grades_by_cell.csv", "canvas.csv", "moodle.csv")}
    proc = nbgrader(["export", "--to", str(out["grades.csv"]), "--log-level=WARN"], cwd=course_dir)
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader export failed:\n{proc.stderr[-2000:]}")
    with _gradebook(course_dir) as gb:
        assignments = [a.name for a in gb.assignments]
        maxima = {a.name: a.max_score for a in gb.assignments}
        students = sorted(gb.students, key=lambda s: s.id)
        totals: dict[tuple[str, str], float | None] = {}
        comments: dict[tuple[str, str], str] = {}
        with open(out["grades_by_cell.csv"], "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(
                [
                    "student_id",
                    "last_name",
                    "first_name",
                    "email",
                    "assignment",
                    "notebook",
                    "cell",
                    "auto_score",
                    "manual_score",
                    "extra_credit",
                    "score",
                    "max_score",
                    "needs_manual_grade",
                    "comment",
                ]
            )
            for s in students:
                for a in assignments:
                    try:
                        sub = gb.find_submission(a, s.id)
                    except MissingEntry:
                        totals[(s.id, a)] = None
                        continue
                    totals[(s.id, a)] = max(0.0, sub.score - (sub.late_submission_penalty or 0.0))
                    cells = _cells(gb, a, s.id)
                    comments[(s.id, a)] = " | ".join(
                        f"{c['cell']}: {c['comment']}" for c in cells if c["comment"] and c["comment"] != "No response."
                    )
                    for c in cells:
                        w.writerow(
                            [
                                s.id,
                                s.last_name or "",
                                s.first_name or "",
                                s.email or "",
                                a,
                                c["notebook"],
                                c["cell"],
                                *(
                                    ("" if c[k] is None else c[k])
                                    for k in (
                                        "auto_score",
                                        "manual_score",
                                        "extra_credit",
                                        "score",
                                        "max_score",
                                        "needs_manual_grade",
                                        "comment",
                                    )
                                ),
                            ]
                        )

        def score(sid: str, a: str) -> str:
            value = totals.get((sid, a))
            return "" if value is None else f"{value:g}"

        with open(out["canvas.csv"], "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *assignments])
            w.writerow(["    Points Possible", "", "", "", "", *(f"{maxima[a]:g}" for a in assignments)])
            for s in students:
                name = ", ".join(p for p in (s.last_name, s.first_name) if p) or s.id
                w.writerow([name, s.lms_user_id or "", s.id, s.email or "", "", *(score(s.id, a) for a in assignments)])
        with open(out["moodle.csv"], "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(
                [
                    "ID number",
                    "Email address",
                    "First name",
                    "Last name",
                    *[col for a in assignments for col in (a, f"{a} feedback")],
                ]
            )
            for s in students:
                w.writerow(
                    [
                        s.id,
                        s.email or "",
                        s.first_name or "",
                        s.last_name or "",
                        *[v for a in assignments for v in (score(s.id, a), comments.get((s.id, a), ""))],
                    ]
                )
    return out


# ------------------------------------------------------------------------------------ feedback out


def regenerate_feedback(course_dir: Path, assignments: list[str] | None = None) -> Path:
    """Generate every feedback page again (manual grades and comments included), offline; the folder."""
    course_dir = Path(course_dir).resolve()
    if assignments is None:
        with _gradebook(course_dir) as gb:
            assignments = [a.name for a in gb.assignments]
    for name in assignments:
        proc = nbgrader(["generate_feedback", name, "--force", "--log-level=WARN"], cwd=course_dir)
        if proc.returncode != 0:
            raise RuntimeError(f"nbgrader generate_feedback {name} failed:\n{proc.stderr[-2000:]}")
    finish_feedback(course_dir / "feedback")
    return course_dir / "feedback"


def return_feedback(course_dir: Path, assignment: str, out: Path, *, submissions: Path | None = None) -> Path:
    """One zip of ``assignment``'s feedback pages, named for the LMS when the collect step recorded its
    names under ``submissions/.lms/`` (see the module docstring); return the zip."""
    course_dir = Path(course_dir).resolve()
    prefixes = {}
    record = Path(submissions) / ".lms" / f"{assignment}.json" if submissions else None
    if record is not None and record.is_file():
        prefixes = json.loads(record.read_text()).get("prefixes", {})
    pages = sorted((course_dir / "feedback").glob(f"*/{assignment}/*.html"))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for page in pages:
            student = page.parent.parent.name
            prefix = prefixes.get(student)
            if prefix:  # the LMS's own name for this student's file, with the page's name after it
                name = f"{prefix}{page.stem}-feedback.html"
            else:
                name = f"{student}/{page.name}"
            zf.write(page, name)
    return out
