"""The judge: decides every graded cell in a trusted process that never runs student code.

``python -m autograder.judge SPEC.json`` (started by :mod:`autograder.grade`, one per submission) reads
the instructor's source notebook, and for each graded cell runs in a fresh namespace the notebook's
first code cell (imports, profile) and the cell's test code: a unit-test cell whole, a
``test_threshold_*`` cell's hidden part alone (see :func:`autograder.notebooks.judge_code`). The
student's functions in that namespace are stand-ins (:mod:`autograder.remote`) that call the real ones
in a sandboxed probe; threshold code reads the submission's checkpoints from the working folder with
the safe loader. A cell passes when its code finishes; its verdict (and the reason when it fails:
exception type and message, never the hidden code) goes to the JSON file the spec names.

Verdict kinds: ``passed``, ``failed`` (an assertion), ``error`` (an exception of the test code, usually
caused by what the student's function returned), ``student_error`` (the student's code raised),
``timeout``, ``probe`` (the sandbox died or broke the protocol), ``checkpoint`` (a refused checkpoint).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import io
import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import nbformat

from course_lib.submit import sha256

from . import notebooks, sandbox
from .remote import ProbeFailed, ProbeSession

STARTUP_S = 120.0  # starting the probe and loading the answer cells


class CellTimeout(Exception):
    pass


@contextlib.contextmanager
def _alarm(seconds: float):
    def fire(signum, frame):
        raise CellTimeout(f"the check did not finish within {seconds:.0f} s")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _message(exc: BaseException) -> str:
    text = str(exc) if not isinstance(exc, KeyError) else repr(exc.args[0]) if exc.args else ""
    notes = getattr(exc, "__notes__", None) or []
    return "\n".join([text, *notes]).strip()


def verdict_of(exc: BaseException | None, load_errors: dict) -> dict:
    """The verdict for a cell whose test code raised ``exc`` (None: it passed)."""
    if exc is None:
        return {"kind": "passed"}
    from course_lib.checkpoints import CheckpointError

    name = type(exc).__name__
    message = _message(exc)
    if isinstance(exc, CellTimeout):
        kind, name = "timeout", "TimeoutError"
    elif isinstance(exc, ProbeFailed):
        kind = "timeout" if "time limit" in message else "probe"
    elif isinstance(exc, CheckpointError):
        kind = "checkpoint"
    elif getattr(exc, "student_code", False):
        kind = "student_error"
        if isinstance(exc, NameError) and load_errors:
            first = next(iter(load_errors.items()))
            message += (
                f" (your answer cell {first[0]!r} raised {first[1].get('type')}: {first[1].get('message', '')[:300]})"
            )
    elif isinstance(exc, AssertionError):
        kind = "failed"
        name = "AssertionError"
        message = message or "a check of this cell failed"
    else:
        kind = "error"
    return {"kind": kind, "ename": name, "evalue": message[:4000]}


@functools.lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    """A hash of the trusted code a threshold verdict depends on (the references and course_lib)."""
    repo = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in sorted(
        [*(repo / "autograder" / "assignments").glob("*/reference.py"), *(repo / "course_lib").rglob("*.py")]
    ):
        h.update(str(path.relative_to(repo)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _names_used(code: str) -> set[str]:
    """Identifiers the code reads (every name, when it does not parse: then nothing is skipped)."""
    import ast

    try:
        return {n.id for n in ast.walk(ast.parse(notebooks_strip(code))) if isinstance(n, ast.Name)}
    except SyntaxError:
        return set(re.findall(r"[A-Za-z_]\w*", code))


def cache_key(code: str, setup: str, workdir: Path) -> str:
    """What a threshold cell that calls none of the student's functions depends on: its code, the
    notebook's first cell, the profile, the trusted code, and the checkpoints' bytes."""
    h = hashlib.sha256()
    for part in (
        code,
        setup,
        os.environ.get("COURSE_PROFILE", ""),
        os.environ.get("COURSE_REQUIRE_PROFILE", ""),
        _code_fingerprint(),
    ):
        h.update(part.encode() + b"\0")
    folder = Path(workdir) / "checkpoints"
    for path in sorted(folder.glob("*")) if folder.is_dir() else ():
        if path.is_file():
            h.update(path.name.encode() + b"\0" + sha256(path).encode())
    return h.hexdigest()


def judge(
    source: Path,
    answers: list[tuple[str, str]],
    workdir: Path,
    *,
    cell_timeout: float,
    unit_timeout: float | None = None,
    limits: sandbox.Limits,
    env: dict[str, str] | None = None,
    gpu: bool = False,
    log=None,
    cache: Path | None = None,
) -> dict:
    """Verdicts of every graded cell of the instructor notebook ``source`` for these answer cells.

    ``cell_timeout`` bounds a threshold cell, ``unit_timeout`` (default: the same) any other test cell.
    ``cache``: a (trusted) folder where the verdicts of threshold cells that call none of the student's
    functions are kept by :func:`cache_key`, so checkpoints graded before (a regrade, identical uploads)
    are not evaluated again.
    """
    unit_timeout = cell_timeout if unit_timeout is None else unit_timeout
    nb = nbformat.read(source, as_version=4)
    setup = notebooks.setup_source(nb)
    names = notebooks.function_names(nb)
    own = Path(workdir) / "checkpoints"  # the student's own files: their code may read them, read-only
    binds = [(str(own), f"{sandbox.WORK}/checkpoints")] if own.is_dir() else []
    session = ProbeSession(
        setup, answers, limits=limits, env=env, gpu=gpu, ro_binds=binds, cell_timeout=min(cell_timeout, STARTUP_S)
    )
    verdicts: dict[str, dict] = {}
    startup_error: BaseException | None = None
    os.chdir(workdir)
    try:
        for cell in notebooks.graded_cells(nb):
            gid = notebooks.nbgrader_meta(cell)["grade_id"]
            code = notebooks.judge_code(cell)
            limit = cell_timeout if gid.startswith(notebooks.THRESHOLD_PREFIX) else unit_timeout
            start = time.monotonic()
            out = io.StringIO()
            exc: BaseException | None = None
            needs_probe = bool(_names_used(code) & set(names))
            key = None
            if cache is not None and gid.startswith(notebooks.THRESHOLD_PREFIX) and not needs_probe:
                key = cache_key(code, setup, workdir)
                hit = Path(cache) / f"{key}.json"
                if hit.is_file():
                    verdicts[gid] = dict(json.loads(hit.read_text()), cached=True)
                    if log:
                        log(f"{gid}: {verdicts[gid]['kind']} (cached)")
                    continue
            try:
                if needs_probe and not session.alive():
                    session.start(deadline=time.monotonic() + STARTUP_S)
                session.deadline = time.monotonic() + limit
                ns = {"__name__": "__dgm_test__"}
                with contextlib.redirect_stdout(io.StringIO()), _alarm(limit + 5):
                    exec(compile(notebooks_strip(setup), "<setup cell>", "exec"), ns)
                with contextlib.redirect_stdout(out), _alarm(limit + 5):
                    for name in names:
                        ns[name] = session.function(name)
                    exec(compile(code, f"<{gid}>", "exec"), ns)
            except BaseException as caught:  # noqa: BLE001 - every failure is this cell's verdict
                exc = caught
                if isinstance(caught, ProbeFailed) and startup_error is None and not session.names:
                    startup_error = caught
            finally:
                with contextlib.suppress(Exception):
                    if session.alive():
                        session.release()
            verdict = verdict_of(exc, session.load_errors)
            verdict["seconds"] = round(time.monotonic() - start, 3)
            verdict["stdout"] = out.getvalue()[-20000:]
            verdicts[gid] = verdict
            if key is not None and verdict["kind"] in ("passed", "failed", "checkpoint"):
                Path(cache).mkdir(parents=True, exist_ok=True)
                tmp = Path(cache) / f".{key}.{os.getpid()}.tmp"
                tmp.write_text(json.dumps(verdict))
                os.replace(tmp, Path(cache) / f"{key}.json")
            if log:
                log(f"{gid}: {verdict['kind']} ({verdict['seconds']:.1f} s)")
    finally:
        session.close()
    return {
        "verdicts": verdicts,
        "load_errors": session.load_errors,
        "calls": session.calls,
        "startup_error": f"{type(startup_error).__name__}: {startup_error}" if startup_error else "",
    }


def notebooks_strip(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.judge")
    parser.add_argument("spec", type=Path)
    args = parser.parse_args(argv)
    spec = json.loads(args.spec.read_text())
    limits = sandbox.Limits(**spec.get("limits", {}))
    result = judge(
        Path(spec["source"]),
        [tuple(a) for a in spec["answers"]],
        Path(spec["workdir"]),
        cell_timeout=float(spec["cell_timeout"]),
        unit_timeout=spec.get("unit_timeout"),
        limits=limits,
        env=spec.get("env"),
        cache=Path(spec["cache"]) if spec.get("cache") else None,
        gpu=bool(spec.get("gpu")),
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    Path(spec["out"]).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
