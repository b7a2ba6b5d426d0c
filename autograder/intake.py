"""Uploads are untrusted archives: take only regular files of the kinds a submission needs.

:func:`take` copies from a student's upload folder (``SUBMISSIONS/<student>/<assignment>/``) into a
fresh staging folder exactly these, each a regular file under its size cap:

* ``<assignment>.ipynb`` (the notebook, which must parse as a Jupyter notebook);
* ``checkpoints/<name>.pt`` and ``checkpoints/<name>.json`` (what the training cells save);
* ``figures/<name>.png``;
* ``timestamp.txt`` (nbgrader's submission time, when the collection step wrote one);
* ``manifest.json`` (what ``python -m course_lib.submit`` packed: sizes and SHA-256 of each file).

Everything else is refused with a reason the student reads in the feedback: symlinks (dangling or
not), devices, FIFOs, sockets, other files or folders (a folder named like a Python package next to
the notebook is flagged as a shadowing attempt), names with odd characters, files over their cap, and
anything past the per-submission total. Files are opened without following links and checked on the
open descriptor, so a file swapped for a link while it is read is refused too. Nothing outside the
upload is ever read.

When the upload carries a manifest, :func:`verify_manifest` compares it with the staged copies: a file
that changed, went missing or was added after the student packed the zip becomes a note in the
student's feedback and a flag for the instructor (never a refusal: the grader judges what it received).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import stat
import sys
from pathlib import Path

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,120}$")
MB = 2**20
MANIFEST = "manifest.json"  # course_lib.submit.MANIFEST


@dataclasses.dataclass(frozen=True)
class Caps:
    notebook_mb: float = 32
    checkpoint_mb: float = 600  # a little above the loader's default cap, which then says why it refuses
    sidecar_mb: float = 1
    figure_mb: float = 8
    total_mb: float = 2048
    files: int = 200


@dataclasses.dataclass
class Intake:
    accepted: list[str] = dataclasses.field(default_factory=list)  # relative paths, as staged
    refused: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (relative path, why)
    tamper: list[str] = dataclasses.field(default_factory=list)  # attempts worth an instructor's look
    notebook_error: str = ""  # why the notebook could not be taken ('' when it was)
    notes: list[str] = dataclasses.field(default_factory=list)  # for the student's feedback (manifest checks)

    @property
    def notebook_ok(self) -> bool:
        return not self.notebook_error


def _allowed(rel: tuple[str, ...], notebook: str) -> str | None:
    """The kind of an allowed path (``notebook``, ``checkpoint``, ``sidecar``, ``figure``, ``timestamp``)."""
    if rel == (notebook,):
        return "notebook"
    if rel == ("timestamp.txt",):
        return "timestamp"
    if rel == (MANIFEST,):
        return "manifest"
    if len(rel) == 2 and rel[0] == "checkpoints" and rel[1].endswith(".pt"):
        return "checkpoint"
    if len(rel) == 2 and rel[0] == "checkpoints" and rel[1].endswith(".json"):
        return "sidecar"
    if len(rel) == 2 and rel[0] == "figures" and rel[1].endswith(".png"):
        return "figure"
    return None


def _caps_of(kind: str, caps: Caps) -> float:
    return {
        "notebook": caps.notebook_mb,
        "checkpoint": caps.checkpoint_mb,
        "sidecar": caps.sidecar_mb,
        "figure": caps.figure_mb,
        "timestamp": 0.001,
        "manifest": caps.sidecar_mb,
    }[kind] * MB


def _importable_top_levels() -> set[str]:
    names = set(sys.builtin_module_names) | set(getattr(sys, "stdlib_module_names", ()))
    for entry in sys.path:
        try:
            for item in os.scandir(entry or "."):
                stem = item.name.split(".")[0]
                if stem.isidentifier():
                    names.add(stem)
        except OSError:
            continue
    return names | {"course_lib", "autograder", "sandboxed"}


def _kind_of(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "a special file"


def take(upload: Path, staged: Path, notebook: str, *, caps: Caps = Caps()) -> Intake:
    """Copy the acceptable files of ``upload`` into ``staged`` (created); say what was refused and why."""
    report = Intake()
    staged.mkdir(parents=True, exist_ok=False)
    os.chmod(staged, 0o755)
    try:
        top = os.lstat(upload)
    except OSError as exc:
        report.notebook_error = f"the upload folder cannot be read ({exc.strerror})"
        return report
    if not stat.S_ISDIR(top.st_mode):
        report.notebook_error = f"the upload is {_kind_of(top.st_mode)}, not a folder"
        return report
    shadows = None
    total, count = 0, 0
    try:
        root_fd = os.open(upload, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        report.notebook_error = f"the upload folder cannot be read ({exc.strerror})"
        return report
    stack: list[tuple[tuple[str, ...], int]] = [((), root_fd)]
    while stack:
        rel_dir, dir_fd = stack.pop()
        try:
            names = sorted(os.listdir(dir_fd))
            for entry in names:
                rel = (*rel_dir, entry)
                shown = "/".join(rel)
                try:
                    info = os.stat(entry, dir_fd=dir_fd, follow_symlinks=False)
                except OSError as exc:
                    report.refused.append((shown, f"cannot be read ({exc.strerror})"))
                    continue
                mode = info.st_mode
                if not NAME.match(entry):
                    report.refused.append(
                        (shown, "a name with characters other than letters, digits, '_', '-' and '.'")
                    )
                    continue
                if stat.S_ISDIR(mode):
                    if rel in (("checkpoints",), ("figures",)):
                        try:
                            stack.append(
                                (rel, os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd))
                            )
                        except OSError as exc:
                            report.refused.append((shown + "/", f"cannot be read ({exc.strerror})"))
                        continue
                    if entry in (".ipynb_checkpoints", "__pycache__"):
                        continue  # editor and interpreter leftovers: silently not taken
                    if shadows is None:
                        shadows = _importable_top_levels()
                    why = "a folder (only the notebook, checkpoints/ and figures/ are taken)"
                    if len(rel) == 1 and entry in shadows:
                        why = f"a folder named like the Python module {entry!r}: it would shadow it"
                        report.tamper.append(f"upload: {shown}/ is named like the module {entry!r} (shadowing attempt)")
                    report.refused.append((shown + "/", why))
                    continue
                kind = _allowed(rel, notebook)
                if not stat.S_ISREG(mode):
                    report.refused.append((shown, f"{_kind_of(mode)}, not a regular file"))
                    if stat.S_ISLNK(mode):
                        report.tamper.append(f"upload: {shown} is a symbolic link")
                    continue
                if kind is None:
                    stem = entry.split(".")[0]
                    if len(rel) == 1 and entry.endswith((".py", ".pth", ".so")) and stem.isidentifier():
                        report.tamper.append(f"upload: {shown} is Python code next to the notebook (shadowing attempt)")
                    report.refused.append(
                        (
                            shown,
                            "not a file a submission needs (only the notebook, checkpoints/*.pt "
                            "and their .json, figures/*.png)",
                        )
                    )
                    continue
                size = info.st_size
                cap = _caps_of(kind, caps)
                if size > cap:
                    report.refused.append((shown, f"{size / MB:.1f} MiB, over the {cap / MB:g} MiB limit for a {kind}"))
                    continue
                if total + size > caps.total_mb * MB or count + 1 > caps.files:
                    report.refused.append(
                        (shown, f"over the submission's limit of {caps.total_mb:g} MiB / {caps.files} files")
                    )
                    continue
                error = _copy(dir_fd, entry, staged.joinpath(*rel), cap)
                if error:
                    report.refused.append((shown, error))
                    continue
                total += size
                count += 1
                report.accepted.append(shown)
        finally:
            os.close(dir_fd)
    if notebook not in report.accepted:
        report.notebook_error = report.notebook_error or next(
            (f"{notebook} was refused: {why}" for p, why in report.refused if p == notebook),
            f"no {notebook} in the upload",
        )
    else:
        problem = notebook_problem(staged / notebook)
        if problem:
            report.notebook_error = problem
            report.accepted.remove(notebook)
            (staged / notebook).unlink()
    if MANIFEST in report.accepted:
        verify_manifest(staged, report, notebook)
    return report


def allowed_kind(rel: tuple[str, ...], notebook: str) -> str | None:
    """The kind of a path a submission may hold (``notebook``, ``checkpoint``, ``sidecar``, ``figure``,
    ``timestamp``, ``manifest``), None for anything else (used by :mod:`autograder.collect` too)."""
    return _allowed(rel, notebook)


def verify_manifest(staged: Path, report: Intake, notebook: str) -> None:
    """Compare the staged ``manifest.json`` with the staged files; add a note (student) and a flag
    (instructor) per difference to ``report``. Never raises: a manifest that cannot be read is a note too."""
    from course_lib.submit import sha256  # the digest make submission wrote (imported here: torch is heavy)

    def differ(text: str) -> None:
        report.notes.append(f"submission manifest: {text}")
        report.tamper.append(f"manifest: {text}")

    try:
        manifest = json.loads((staged / MANIFEST).read_text())
        listed = manifest.get("files") if isinstance(manifest, dict) else None
        if not isinstance(listed, dict) or not all(isinstance(v, dict) for v in listed.values()):
            differ("manifest.json does not list the files of the submission; it was not written by course_lib.submit")
            return
        expected = Path(notebook).stem
        if manifest.get("assignment") not in (None, expected):
            differ(f"it was made for the assignment {str(manifest.get('assignment'))[:80]!r}, not {expected!r}")
        refused = {path for path, _ in report.refused}
        for rel, entry in sorted(listed.items()):
            shown = str(rel)[:200]
            if rel not in report.accepted:
                if rel not in refused:  # a refused file already has its reason in the feedback
                    differ(f"{shown} was packed by course_lib.submit but is not in the upload")
                continue
            size, digest = (staged / rel).stat().st_size, sha256(staged / rel)
            if entry.get("bytes") != size or entry.get("sha256") != digest:
                differ(
                    f"{shown} differs from the file course_lib.submit packed (size or checksum): it changed "
                    "after the zip was made"
                )
        for rel in report.accepted:
            if rel not in listed and rel not in (MANIFEST, "timestamp.txt"):
                differ(f"{rel} is not in the manifest: it was added after course_lib.submit packed the zip")
    except Exception as exc:  # noqa: BLE001 - an unreadable manifest costs a note, never the grading
        differ(f"manifest.json could not be read ({type(exc).__name__}: {str(exc)[:160]})")


def _copy(dir_fd: int, name: str, dst: Path, cap: float) -> str:
    """Copy one regular file (``name`` in the open folder ``dir_fd``) without following links; '' or
    why it was refused."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError as exc:
        return f"cannot be opened ({exc.strerror})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return f"{_kind_of(info.st_mode)}, not a regular file"
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(dst.parent, 0o755)
        copied = 0
        with open(dst, "wb") as out:
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                copied += len(chunk)
                if copied > cap:
                    out.close()
                    dst.unlink()
                    return f"grew past the {cap / MB:g} MiB limit while it was read"
                out.write(chunk)
        os.chmod(dst, 0o644)
        return ""
    finally:
        os.close(fd)


def notebook_problem(path: Path) -> str:
    """'' when ``path`` is a readable Jupyter notebook, else what is wrong with it."""
    import nbformat

    try:
        raw = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        return f"the notebook is not valid JSON ({str(exc)[:200]}); was it saved completely?"
    if not isinstance(raw, dict) or not isinstance(raw.get("cells", []), list):
        return "the notebook file does not hold a notebook"
    try:
        nbformat.reads(json.dumps(raw), as_version=4)
    except Exception as exc:  # noqa: BLE001 - any validation failure is the same message
        return f"the notebook does not follow the Jupyter format ({str(exc).splitlines()[0][:200]})"
    return ""
