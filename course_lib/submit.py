"""Pack a submission: ``python -m course_lib.submit NOTEBOOK [--student ID]`` (``make submission``).

Before anything is written it checks what the grader will need: for every checkpoint the
notebook's graded cells evaluate (the profile's ``graded_checkpoints()``), that
``checkpoints/<run>.pt`` and its ``.json`` sidecar exist next to the notebook, that the sidecar says it
was saved under the profile the course grades (:func:`course_lib.profiles.graded_profile`), that it is
under the size cap and a plain ``torch.save`` archive (:mod:`course_lib.checkpoints`). Any problem
stops it with a message that says what to do. Then it writes one zip,
``<assignment>--<student>.zip`` (``<assignment>.zip`` without ``--student``), holding

* ``<assignment>.ipynb``, the notebook as saved on disk (save it in Jupyter first);
* ``checkpoints/<run>.pt`` and ``.json`` of that profile;
* ``manifest.json``: assignment, student, profile, versions, and the size and SHA-256 of every file,
  which the grader compares with what it receives.

Upload that zip to the course's LMS; the instructor's collect step (``python -m autograder collect``)
turns the LMS download into the grader's folders.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import re
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

from course_lib.checkpoints import CheckpointError, check_archive, max_checkpoint_bytes

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "dgm-course submission 1"
# the names the grader accepts for a student id and a file (autograder.intake.NAME)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,120}$")


class SubmissionError(RuntimeError):
    """The submission is not ready; the message lists every problem and what to do."""


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks (the manifest's digest; the grader's intake and judge
    cache use the same)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def required_checkpoints(assignment: str, profile: str) -> tuple[str, ...]:
    """The runs whose checkpoints the graded cells of ``assignment`` evaluate under ``profile``."""
    from course_lib.profiles import ASSIGNMENT_MODULES, get_profile

    if assignment not in ASSIGNMENT_MODULES:
        raise SubmissionError(
            f"{assignment!r} is not one of the course's assignments ({', '.join(ASSIGNMENT_MODULES)}): "
            "pass the notebook <assignment>/<assignment>.ipynb you were handed"
        )
    return tuple(get_profile(assignment, profile).graded_checkpoints())


def _checkpoint_problem(pt: Path, profile: str) -> str:
    """'' when ``pt`` is a checkpoint the grader will accept under ``profile``, else what to do."""
    rel = f"checkpoints/{pt.name}"
    side = pt.with_suffix(".json")
    if not pt.is_file():
        return f"{rel} is missing: run the notebook's training cells with COURSE_PROFILE={profile} (they save it)"
    if not side.is_file():
        return (
            f"checkpoints/{side.name} is missing (it records the profile {rel} was trained in): delete {rel} "
            f"and run its training cell again with COURSE_PROFILE={profile}"
        )
    try:
        meta = json.loads(side.read_text())
    except (ValueError, UnicodeDecodeError):
        return f"checkpoints/{side.name} is not valid JSON: delete it and {rel} and run the training cell again"
    saved = meta.get("profile") if isinstance(meta, dict) else None
    if saved != profile:
        return (
            f"{rel} was saved under the {saved!r} profile, but the course grades the {profile!r} profile: "
            f"delete it and run its training cell again with COURSE_PROFILE={profile}"
        )
    size, cap = pt.stat().st_size, max_checkpoint_bytes()
    if size > cap:
        return (
            f"{rel} is {size / 2**20:.1f} MiB, over the {cap / 2**20:.0f} MiB limit: save only the model's "
            "state_dict (the training cells do)"
        )
    try:
        check_archive(pt, size, cap)
    except CheckpointError as exc:
        return str(exc)
    return ""


def check(notebook: Path, profile: str, required: tuple[str, ...]) -> tuple[list[str], list[str], list[str]]:
    """``(files, problems, notes)``: the files to pack (relative to the notebook's folder), what stops
    the submission, and what is left out (other checkpoints that the grader would refuse)."""
    notebook = Path(notebook)
    folder = notebook.parent
    files, problems, notes = [], [], []
    if not notebook.is_file():
        return [], [f"no notebook at {notebook}"], []
    try:
        nb = json.loads(notebook.read_bytes())
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            raise ValueError("no cells")
        files.append(notebook.name)
    except (ValueError, UnicodeDecodeError) as exc:
        problems.append(f"{notebook.name} is not a readable notebook ({str(exc)[:120]}): save it in Jupyter and retry")
    for run in required:
        problem = _checkpoint_problem(folder / "checkpoints" / f"{run}.pt", profile)
        if problem:
            problems.append(problem)
        else:
            files += [f"checkpoints/{run}.pt", f"checkpoints/{run}.json"]
    ckpt_dir = folder / "checkpoints"
    for pt in sorted(ckpt_dir.glob("*.pt")) if ckpt_dir.is_dir() else ():
        if pt.stem in required:
            continue
        if not NAME.match(pt.name):
            notes.append(f"left out checkpoints/{pt.name}: the grader accepts only letters, digits, '_', '-' and '.'")
            continue
        problem = _checkpoint_problem(pt, profile)
        if problem:
            notes.append(f"left out checkpoints/{pt.name} (no graded cell needs it): {problem}")
        else:
            files += [f"checkpoints/{pt.name}", f"checkpoints/{pt.stem}.json"]
    return files, problems, notes


def zip_name(assignment: str, student: str | None) -> str:
    return f"{assignment}--{student}.zip" if student else f"{assignment}.zip"


def build(
    notebook: Path,
    *,
    student: str | None = None,
    profile: str | None = None,
    out_dir: Path | None = None,
    required: tuple[str, ...] | None = None,
    log: Callable[[str], object] = print,
) -> Path:
    """Check the submission of ``notebook`` and write its zip into ``out_dir`` (default: next to the
    assignment folder); return the zip's path.

    Raises:
        SubmissionError: listing every problem found (missing, wrong-profile, oversized or corrupt
            checkpoints; an unreadable notebook; a student id the grader would refuse).
    """
    import course_lib
    from course_lib.profiles import graded_profile

    notebook = Path(notebook).resolve()
    assignment = notebook.stem
    if notebook.parent.name != assignment:
        log(
            f"note: {notebook.name} is not in a folder named {assignment}/ (checkpoints/ are read from "
            f"{notebook.parent})"
        )
    if student is not None and not NAME.match(student):
        raise SubmissionError(f"student id {student!r}: use letters, digits, '_', '-' and '.' only (your course id)")
    profile = profile or graded_profile()
    if required is None:
        required = required_checkpoints(assignment, profile)
    files, problems, notes = check(notebook, profile, required)
    if problems:
        raise SubmissionError(
            f"{assignment} is not ready to submit ({len(problems)} problem(s)):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    for note in notes:
        log(f"note: {note}")
    folder = notebook.parent
    manifest = {
        "format": MANIFEST_FORMAT,
        "assignment": assignment,
        "student": student,
        "profile": profile,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "course_lib": course_lib.__version__,
        "files": {rel: {"bytes": (folder / rel).stat().st_size, "sha256": sha256(folder / rel)} for rel in files},
    }
    out_dir = Path(out_dir) if out_dir is not None else folder.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / zip_name(assignment, student)
    tmp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for rel in files:
            # checkpoints are torch.save archives of floats: stored, not deflated
            kind = zipfile.ZIP_STORED if rel.endswith(".pt") else zipfile.ZIP_DEFLATED
            zf.write(folder / rel, rel, compress_type=kind)
        zf.writestr(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n", compress_type=zipfile.ZIP_DEFLATED)
    tmp.replace(target)
    total = sum(v["bytes"] for v in manifest["files"].values())
    log(
        f"wrote {target} ({len(files)} files, {total / 2**20:.1f} MiB, profile {profile}): upload it to the course's LMS"
    )
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.submit", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "notebook", type=Path, help="e.g. notebooks/05_importance_sampling/05_importance_sampling.ipynb"
    )
    parser.add_argument("--student", help="your student id as the course knows it (goes into the zip's name)")
    parser.add_argument(
        "--profile",
        choices=("fast", "full"),
        default=None,
        help="the profile the course grades (default: $COURSE_GRADING_PROFILE, else fast)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the zip (default: next to the assignment folder)"
    )
    args = parser.parse_args(argv)
    try:
        build(args.notebook, student=args.student, profile=args.profile, out_dir=args.out)
    except SubmissionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
