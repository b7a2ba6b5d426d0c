"""An LMS download (one zip of every student's upload) into ``SUBMISSIONS/<student>/<assignment>/``.

``python -m autograder collect DOWNLOAD.zip --assignment A --lms canvas --out SUBMISSIONS`` follows
nbgrader's ``zip_collect`` conventions: a regular expression with the named groups ``student_id``
and ``file_id`` (optionally ``timestamp``) is matched against each member's path in the download and
says whose file it is and what it is. A ``file_id`` that is the zip ``course_lib.submit`` writes
(``<assignment>--<student>.zip``, or any ``.zip``) is opened in turn; one that is the notebook
(``<assignment>.ipynb``, also with an LMS's ``-1`` resubmission suffix) or a ``checkpoints/`` file is
taken as it is. Where the LMS puts the files depends on the LMS; the presets (:data:`PATTERNS`) follow
their download formats as documented, and ``--regexp`` takes any other (check with ``--dry-run``).

The download is untrusted like every upload: member names with ``..``, absolute paths, backslashes
or odd characters, symbolic links and other special members, a zip inside the student's zip, files a
submission does not need (:func:`autograder.intake.allowed_kind`), and anything past the size caps
(counted on the bytes actually read, so a member that lies about its size stops at the cap) are left
out, each with a reason in the report. Files are written only under ``OUT/<student>/<assignment>/``
(the student id must be a plain name) and nothing is ever extracted by the zip library itself. The
grader's intake then checks the result again. What each student's LMS file was called is kept in
``OUT/.lms/<assignment>.json``, so feedback can go back under the LMS's own names
(:func:`autograder.lms.return_feedback`).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from . import intake

# zip_collect-style patterns for the common LMS downloads (matched against the member's full path)
PATTERNS = {
    # Canvas "Download Submissions": <sortablename>[_LATE]_<user id>_<submission id>_<original file name>
    "canvas": r"^(?P<prefix>(?P<name>[^_/]+)(?:_[Ll][Aa][Tt][Ee])?_(?P<student_id>\d+)_(?P<submission_id>\d+)_)(?P<file_id>[^/]+)$",
    # Moodle "Download all submissions": <Full Name>_<participant id>_assignsubmission_file_/<file>
    "moodle": r"^(?P<prefix>(?P<name>[^/]+)_(?P<student_id>\d+)_assignsubmission_file_/)(?P<file_id>.+)$",
    # Blackboard (nbgrader's zip_collect example): <assignment>_<user>_attempt_<yyyy-mm-dd-hh-mm-ss>[_<file>]
    "blackboard": r"^(?P<prefix>[^/]*?_(?P<student_id>[A-Za-z0-9.\-]+)_attempt_(?P<timestamp>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)_?)(?P<file_id>[^/]+)$",  # noqa: E501
    # a folder per student: <student>/<file> (a shared drive, nbgrader's own layout)
    "folders": r"^(?P<prefix>(?P<student_id>[^/]+)/)(?P<file_id>.+)$",
    # course_lib.submit's zips side by side: <assignment>--<student>.zip
    "files": r"^(?P<prefix>)(?P<file_id>[^/]*?--(?P<student_id>[^/]+?)\.zip)$",
}
SUFFIX = re.compile(r"^(?P<stem>.+?)(?:-\d{1,3})?(?P<ext>\.(?:zip|ipynb))$")  # Canvas: "a.ipynb" -> "a-1.ipynb"


@dataclasses.dataclass(frozen=True)
class Caps:
    members: int = 20_000  # members of the download
    total_mb: float = 200_000  # everything written, all students together
    submission_mb: float = intake.Caps().total_mb  # one student's zip, and what it expands to
    inner_members: int = intake.Caps().files


@dataclasses.dataclass
class Report:
    students: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # student -> files written
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (member, why)
    prefixes: dict[str, str] = dataclasses.field(default_factory=dict)  # student -> the LMS's name prefix

    def table(self) -> str:
        lines = [f"{len(self.students)} submission(s)"]
        lines += [f"  {s}: {', '.join(files)}" for s, files in sorted(self.students.items())]
        if self.skipped:
            lines.append(f"{len(self.skipped)} member(s) left out:")
            lines += [f"  {m}: {why}" for m, why in self.skipped]
        return "\n".join(lines)


class _Budget:
    def __init__(self, caps: Caps):
        self.left = int(caps.total_mb * intake.MB)


def _unsafe(name: str) -> str:
    """Why a member name cannot be used ('' when it can)."""
    if "\\" in name or "\0" in name:
        return "a name with a backslash or a NUL character"
    path = PurePosixPath(name)
    if path.is_absolute() or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if any(part in ("..", ".") for part in path.parts) or "//" in name:
        return "a path with '..', '.' or an empty part"
    return ""


def _kind(info: zipfile.ZipInfo) -> str:
    """'' for a regular file member, else what it is (links and special files are never extracted)."""
    mode = info.external_attr >> 16
    fmt = stat.S_IFMT(mode)
    if info.is_dir():
        return "a folder"
    if fmt == stat.S_IFLNK:
        return "a symbolic link"
    if fmt not in (0, stat.S_IFREG):
        return "a special file"
    return ""


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, sink) -> int:
    """Copy a member into ``sink`` (a binary file) stopping past ``cap`` bytes; the count read, or -1."""
    if info.file_size > cap:
        return -1
    n = 0
    with zf.open(info) as src:
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                return n
            n += len(chunk)
            if n > cap:
                return -1
            sink.write(chunk)


def collect(
    download: Path,
    assignment: str,
    out: Path,
    *,
    lms: str = "canvas",
    regexp: str | None = None,
    caps: Caps = Caps(),
    dry_run: bool = False,
) -> Report:
    """Sort the LMS ``download`` (a zip) into ``out/<student>/<assignment>/``; say what was left out.

    A student's folder for this assignment is replaced by what the download holds for them.
    """
    pattern = re.compile(regexp if regexp is not None else PATTERNS[lms])
    if "student_id" not in pattern.groupindex or "file_id" not in pattern.groupindex:
        raise ValueError("the pattern needs the named groups (?P<student_id>...) and (?P<file_id>...)")
    report, budget = Report(), _Budget(caps)
    notebook = f"{assignment}.ipynb"
    out = Path(out)
    with zipfile.ZipFile(download) as zf:
        infos = zf.infolist()
        if len(infos) > caps.members:
            raise ValueError(f"{download} holds {len(infos)} members, over the limit of {caps.members}")
        chosen: dict[str, list[tuple[zipfile.ZipInfo, str, str]]] = {}
        for info in infos:
            name = info.filename
            why = _unsafe(name) or _kind(info)
            if why == "a folder":
                continue
            if why:
                report.skipped.append((name[:200], why))
                continue
            match = pattern.match(name)
            if not match:
                report.skipped.append(
                    (name[:200], f"its name does not follow the {'given' if regexp else lms} pattern")
                )
                continue
            student, file_id = match.group("student_id"), match.group("file_id") or PurePosixPath(name).name
            if not intake.NAME.match(student or ""):
                report.skipped.append((name[:200], f"the student id {student!r} is not a plain name"))
                continue
            chosen.setdefault(student, []).append((info, file_id, match.groupdict().get("timestamp") or ""))
            prefix = match.groupdict().get("prefix")
            if prefix is not None:
                report.prefixes.setdefault(student, prefix)
        for student, members in sorted(chosen.items()):
            target = out / student / assignment
            with tempfile.TemporaryDirectory(prefix="dgm-collect-") as tmp:
                staged = Path(tmp) / "s"
                staged.mkdir()
                written, stamps = [], sorted({ts for _, _, ts in members if ts})
                for info, file_id, _ in members:
                    written += _take(zf, info, file_id, assignment, notebook, staged, caps, budget, report)
                if not written:
                    continue
                if stamps:
                    (staged / "timestamp.txt").write_text(_timestamp(stamps[-1]))
                    written.append("timestamp.txt")
                report.students[student] = sorted(set(written))
                if dry_run:
                    continue
                if target.exists():
                    shutil.rmtree(target)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(staged, target)
    if not dry_run and report.prefixes:
        (out / ".lms").mkdir(parents=True, exist_ok=True)
        record = {
            "lms": "custom" if regexp else lms,
            "prefixes": {s: report.prefixes[s] for s in report.students if s in report.prefixes},
        }
        (out / ".lms" / f"{assignment}.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return report


def _timestamp(raw: str) -> str:
    """nbgrader's timestamp.txt format from a Blackboard-style ``yyyy-mm-dd-hh-mm-ss``."""
    m = re.match(r"^(\d{4}-\d\d-\d\d)-(\d\d)-(\d\d)-(\d\d)$", raw)
    return f"{m.group(1)} {m.group(2)}:{m.group(3)}:{m.group(4)}" if m else raw


def _place(staged: Path, rel: str, data_from, report: Report, shown: str) -> bool:
    path = staged.joinpath(*rel.split("/"))
    if path.exists():
        report.skipped.append((shown, f"a second {rel} for the same student (the first one is kept)"))
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    data_from(path)
    return True


def _take(
    zf, info, file_id: str, assignment: str, notebook: str, staged: Path, caps: Caps, budget: _Budget, report: Report
) -> list[str]:
    """Extract one member of the download (a student's zip, notebook or checkpoint); files written."""
    shown = info.filename[:200]
    if PurePosixPath(file_id).suffix == ".zip":
        return _take_zip(zf, info, assignment, notebook, staged, caps, budget, report)
    rel = file_id[len(assignment) + 1 :] if file_id.startswith(f"{assignment}/") else file_id  # a folder upload
    m = SUFFIX.match(rel)
    if m and m.group("ext") == ".ipynb" and m.group("stem") + m.group("ext") == notebook:
        rel = notebook  # an LMS's resubmission suffix: 00_toy-1.ipynb
    if _unsafe(rel) or intake.allowed_kind(tuple(rel.split("/")), notebook) is None:
        report.skipped.append(
            (
                shown,
                f"not a file of a {assignment} submission (expected {notebook}, checkpoints/ "
                "files or the zip course_lib.submit writes)",
            )
        )
        return []
    cap = min(int(caps.submission_mb * intake.MB), budget.left)

    def write(path: Path) -> None:
        with open(path, "wb") as f:
            n = _read(zf, info, cap, f)
        if n < 0:
            path.unlink()
            raise _TooLarge
        budget.left -= n

    try:
        return [rel] if _place(staged, rel, write, report, shown) else []
    except _TooLarge:
        report.skipped.append((shown, f"over the size limit of {caps.submission_mb:g} MiB"))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:  # a corrupt member
        report.skipped.append((shown, f"cannot be read ({str(exc)[:100]})"))
    return []


class _TooLarge(Exception):
    pass


def _take_zip(
    zf, info, assignment: str, notebook: str, staged: Path, caps: Caps, budget: _Budget, report: Report
) -> list[str]:
    """A student's own zip inside the download: its allowed files, checked like the download's."""
    shown = info.filename[:200]
    cap = min(int(caps.submission_mb * intake.MB), budget.left)
    with tempfile.TemporaryFile() as blob:
        try:
            if _read(zf, info, cap, blob) < 0:
                report.skipped.append((shown, f"over the size limit of {caps.submission_mb:g} MiB"))
                return []
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            report.skipped.append((shown, f"cannot be read ({str(exc)[:100]})"))
            return []
        blob.seek(0)
        try:
            inner = zipfile.ZipFile(blob)
            members = inner.infolist()
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            report.skipped.append((shown, f"not a readable zip ({str(exc)[:100]})"))
            return []
        if len(members) > caps.inner_members:
            report.skipped.append((shown, f"holds {len(members)} files, over the limit of {caps.inner_members}"))
            return []
        files = [m for m in members if not m.is_dir()]
        # a zip made by hand of the assignment folder: <assignment>/<files>
        strip = all(m.filename.startswith(f"{assignment}/") for m in files) and bool(files)
        written, left = [], cap
        for member in files:
            inner_shown = f"{shown}:{member.filename[:200]}"
            rel = member.filename[len(assignment) + 1 :] if strip else member.filename
            why = _unsafe(member.filename) or _kind(member)
            if not why and intake.allowed_kind(tuple(rel.split("/")), notebook) is None:
                why = "not a file a submission needs"
            if why:
                report.skipped.append((inner_shown, why))
                continue

            def write(path: Path, member=member) -> None:
                nonlocal left
                with open(path, "wb") as f:
                    n = _read(inner, member, min(left, budget.left), f)
                if n < 0:
                    path.unlink()
                    raise _TooLarge
                left -= n
                budget.left -= n

            try:
                if _place(staged, rel, write, report, inner_shown):
                    written.append(rel)
            except _TooLarge:
                report.skipped.append((inner_shown, f"past the size limit of {caps.submission_mb:g} MiB"))
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:  # a corrupt member
                report.skipped.append((inner_shown, f"cannot be read ({str(exc)[:100]})"))
        return written
