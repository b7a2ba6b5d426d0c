"""Autograde a folder of submissions: untrusted code produces data, trusted code judges.

Layout of ``SUBMISSIONS``: ``<student>/<assignment>/<assignment>.ipynb`` plus what the notebook saved
next to it (``checkpoints/``, ``figures/``). For each submission (several at once with ``jobs`` or a
Dask cluster):

1. **intake** (:mod:`autograder.intake`): only regular files of the allowed kinds are taken, under
   size caps; the rest is refused with a reason in that student's feedback;
2. **skeleton** (:func:`autograder.record.skeleton`): the student's cells under the release's locked
   and graded cells;
3. **run** (sandbox, :mod:`autograder.sandboxed.runner`): the notebook executes, training what has no
   checkpoint (fast profile) and printing what it prints; checkpoints and outputs come back as data;
4. **judge** (trusted process, :mod:`autograder.judge`): every graded cell's test code runs against
   the student's functions in a sandboxed probe, and threshold code evaluates the checkpoints;
5. **record**: the graded notebook (run outputs + verdicts, visible test code only) is handed to
   ``nbgrader autograde`` in the trusted course folder, which stores the scores in its gradebook
   (:class:`autograder.record.InjectResults`); then ``generate_feedback`` and ``export``.

The course folder (gradebook, config, sources) is never visible to a sandbox, and a submission that
crashes, hangs or attacks the grader costs only its own points.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import nbformat

from . import SOLUTIONS, intake, rubrics, sandbox, settings, tamper
from .feedback import finish as finish_feedback
from .notebooks import answer_ids, graded_cells, nbgrader_meta, student_answers
from .record import GRADED_DIR_ENV, graded_notebook, neutralize_markdown, read_executed, skeleton
from .release import nbgrader, write_course_config

LIMITS = sandbox.Limits()
RUN_MODES = ("always", "auto", "never")
JUDGE_MEMORY_MB = 16000


@dataclasses.dataclass
class Result:
    student: str
    assignment: str
    score: float
    max_score: float
    cells: dict[str, tuple[float, float]]  # every graded cell (written answers too): (score, max)
    seconds: float
    error: str = ""
    reasons: dict[str, str] = dataclasses.field(default_factory=dict)  # graded cell -> why it failed
    tamper: list[str] = dataclasses.field(default_factory=list)  # attempts flagged for the instructor
    notes: list[str] = dataclasses.field(default_factory=list)  # what the student's feedback explains
    # written answers (graded by a TA in the formgrader) -> whether one still waits for its manual grade
    written: dict[str, bool] = dataclasses.field(default_factory=dict)

    @property
    def auto_cells(self) -> dict[str, tuple[float, float]]:
        """The cells the autograder decides (every graded cell but the written answers)."""
        return {cell: v for cell, v in self.cells.items() if cell not in self.written}

    @property
    def auto_score(self) -> float:
        return sum(s for s, _ in self.auto_cells.values())

    @property
    def auto_max(self) -> float:
        return sum(m for _, m in self.auto_cells.values())


@dataclasses.dataclass
class Outcome:
    """What grading one submission produced besides the gradebook rows."""

    seconds: float
    error: str = ""
    tamper: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    phases: dict[str, float] = dataclasses.field(default_factory=dict)  # seconds of intake, run, judge


def find_submissions(submissions: Path, solutions: Path = SOLUTIONS) -> list[tuple[str, str]]:
    """(student, assignment) pairs under ``submissions`` whose assignment has a solution notebook.

    Folders are listed without following symbolic links: a linked student or assignment folder is
    skipped (it could point anywhere)."""
    pairs = []
    for student_dir in sorted(submissions.iterdir()):
        if student_dir.is_symlink() or not student_dir.is_dir() or not intake.NAME.match(student_dir.name):
            continue
        for a_dir in sorted(student_dir.iterdir()):
            if a_dir.is_symlink() or not a_dir.is_dir():
                continue
            if (solutions / a_dir.name / f"{a_dir.name}.ipynb").is_file():
                pairs.append((student_dir.name, a_dir.name))
    return pairs


def grade(
    submissions: Path,
    course_dir: Path,
    *,
    timeout: float | None = None,
    solutions: Path = SOLUTIONS,
    limits: sandbox.Limits | None = None,
    jobs: int | None = None,
    dask_scheduler: str | None = None,
    profile: str | None = None,
    run_notebook: str = "always",
    log=print,
) -> list[Result]:
    """Autograde every submission, generate feedback, export ``grades.csv``; return per-cell results.

    Args:
        timeout: wall-clock seconds for one submission's notebook run (``None``: each assignment's profile says,
            :func:`autograder.settings.submission_timeout`; the judge has its own limits).
        limits: the sandboxes' resource limits (memory, CPU, processes, file sizes, scratch space).
        jobs: submissions graded at once on this machine (``None``: ``$COURSE_GRADE_JOBS``, default 1).
        dask_scheduler: grade on a Dask cluster whose workers share this file system instead.
        profile: the profile graded (``None``: ``$COURSE_GRADING_PROFILE``, else the course's default
            ``fast``), never guessed from the grading machine's hardware.
        run_notebook: ``always`` run each notebook in the sandbox (outputs in the feedback, training
            what has no checkpoint); ``auto`` only when a checkpoint the solution run saves is missing;
            ``never`` judge the submitted checkpoints alone.
    """
    from course_lib.profiles import PROFILE_NAMES

    sandbox.check()
    if jobs is None:
        jobs = int(os.environ.get("COURSE_GRADE_JOBS", "1"))
    profile = (profile or os.environ.get("COURSE_GRADING_PROFILE") or settings.GRADING_PROFILE).strip().lower()
    if profile not in PROFILE_NAMES:
        raise ValueError(f"unknown grading profile {profile!r}; expected one of {', '.join(PROFILE_NAMES)}")
    if run_notebook not in RUN_MODES:
        raise ValueError(f"unknown run_notebook mode {run_notebook!r}; expected one of {', '.join(RUN_MODES)}")
    submissions, course_dir = Path(submissions).resolve(), Path(course_dir).resolve()
    if not submissions.is_dir():
        raise FileNotFoundError(f"no submissions folder at {submissions}: expected <student>/<assignment>/ folders")
    repo = Path(__file__).resolve().parent.parent
    inside = course_dir == repo or repo in course_dir.parents
    if inside and (repo / "grading") not in (course_dir, *course_dir.parents):
        raise ValueError(f"the course folder {course_dir} must lie outside the repository (or under grading/)")
    if submissions == course_dir or course_dir in submissions.parents or submissions in course_dir.parents:
        raise ValueError("the submissions folder and the course folder must not contain each other")
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    pairs = find_submissions(submissions, solutions)
    if not pairs:
        log(f"no submissions found under {submissions} (expected <student>/<assignment>/<assignment>.ipynb)")
        return []
    names = sorted({a for _, a in pairs})
    env = _prepare_course(course_dir, names, solutions)
    threads = _threads_per_job(jobs if dask_scheduler is None else 1)
    task = dict(
        course_dir=str(course_dir),
        submissions=str(submissions),
        solutions=str(solutions),
        profile=profile,
        timeout=timeout,
        limits=dataclasses.asdict(limits or LIMITS),
        threads=threads,
        run_notebook=run_notebook,
    )

    def work(pair: tuple[str, str]) -> Outcome:
        log(f"grading {pair[0]}/{pair[1]} ...")
        return grade_submission(pair, **task)

    if dask_scheduler is not None:
        from distributed import Client

        with Client(dask_scheduler) as client:
            outcomes = client.gather(client.map(grade_submission, pairs, pure=False, **task))
    elif jobs > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(jobs) as pool:
            outcomes = list(pool.map(work, pairs))
    else:
        outcomes = [work(pair) for pair in pairs]
    by_pair = dict(zip(pairs, outcomes))
    record_env = dict(env, **{GRADED_DIR_ENV: str(course_dir / ".graded")})
    for name in names:
        proc = nbgrader(["autograde", name, "--force", "--log-level=WARN"], cwd=course_dir, env=record_env)
        if proc.returncode != 0:
            log(f"nbgrader autograde {name} reported problems:\n{proc.stderr[-3000:]}")
        nbgrader(["generate_feedback", name, "--force", "--log-level=WARN"], cwd=course_dir, env=env)
    finish_feedback(course_dir / "feedback")
    shutil.rmtree(course_dir / ".work", ignore_errors=True)
    nbgrader(["export", "--to", str(course_dir / "grades.csv"), "--log-level=WARN"], cwd=course_dir, env=env)
    return _collect(course_dir, pairs, by_pair)


def _threads_per_job(jobs: int) -> dict[str, str]:
    """Thread limits for each submission's processes when ``jobs`` run at once on this machine: the
    cores split between them. An OMP_NUM_THREADS set by the caller wins (sandboxes inherit it)."""
    if jobs <= 1 or "OMP_NUM_THREADS" in os.environ:
        return {}
    n = str(max(1, (os.cpu_count() or 1) // jobs))
    return {"OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n}


def _prepare_course(course_dir: Path, names: list[str], solutions: Path) -> dict[str, str]:
    """Write the course config, copy each assignment's source notebook, generate it; return the env."""
    write_course_config(course_dir)
    env = dict(os.environ, COURSE_PROGRESS="0")
    env.pop(GRADED_DIR_ENV, None)
    for name in names:
        src_dir = course_dir / "source" / name
        src_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(solutions / name / f"{name}.ipynb", src_dir / f"{name}.ipynb")
        proc = nbgrader(["generate_assignment", name, "--force", "--log-level=WARN"], cwd=course_dir, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n{proc.stderr}")
    rubrics.write(solutions, names, course_dir / "rubrics")  # what TAs read next to the formgrader
    return env


# ------------------------------------------------------------------------------------ one submission


def grade_submission(
    pair: tuple[str, str],
    *,
    course_dir: str,
    submissions: str,
    solutions: str,
    profile: str,
    timeout: float | None,
    limits: dict,
    threads: dict,
    run_notebook: str,
) -> Outcome:
    """Grade one submission up to its graded notebook (module level, so a Dask worker can run it).

    Never raises for anything the submission does: a failure becomes notes and a failed verdict.
    """
    student, name = pair
    course, start = Path(course_dir), time.monotonic()
    timeout = timeout if timeout is not None else settings.submission_timeout(name, profile)
    cell_timeout = settings.cell_timeout(name, profile)
    work = course / ".work" / f"{student}--{name}"
    out_dir = course / ".graded" / student / name
    for folder in (work, out_dir):
        if folder.exists():
            shutil.rmtree(folder)
    work.mkdir(parents=True)
    os.chmod(work, 0o755)
    out_dir.mkdir(parents=True)
    source_path = Path(solutions) / name / f"{name}.ipynb"
    release_nb = nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)
    source_nb = nbformat.read(source_path, as_version=4)
    nb_file = f"{name}.ipynb"
    outcome = Outcome(0.0)
    try:
        clock = time.monotonic()
        taken = intake.take(Path(submissions) / student / name, work / "staged", nb_file)
        outcome.tamper += taken.tamper
        outcome.notes += [f"not taken from your upload: {path} ({why})" for path, why in taken.refused]
        outcome.notes += taken.notes  # the submission manifest's checks (intake.verify_manifest)
        if taken.notebook_error:
            outcome.notes.insert(0, f"your notebook could not be graded: {taken.notebook_error}")
            student_nb = nbformat.v4.new_notebook()
        else:
            student_nb = nbformat.read(work / "staged" / nb_file, as_version=4)
        skel = skeleton(student_nb, release_nb)
        nbformat.write(skel, work / "staged" / nb_file)
        submitted = course / "submitted" / student / name
        if submitted.exists():
            shutil.rmtree(submitted)
        shutil.copytree(work / "staged", submitted)
        judge_dir = work / "judge"
        (judge_dir / "checkpoints").mkdir(parents=True)
        executed, audit = None, b""
        lim = sandbox.Limits(**limits)
        # CPU seconds follow the wall clock the profile allows (two busy threads), never below the default cap
        lim = lim.override(wall_s=timeout + 60, cpu_s=max(lim.cpu_s, 2 * int(timeout)))
        kernel_env = {
            "COURSE_PROFILE": profile,
            "NBGRADER_EXECUTION": "autograde",
            "COURSE_STATIC_WIDGETS": "1",
            **threads,
        }
        outcome.phases["intake"] = round(time.monotonic() - clock, 2)
        clock = time.monotonic()
        # the judge sees the submitted checkpoints, replaced by what the run wrote (trained or retrained)
        for f in (work / "staged" / "checkpoints").glob("*") if (work / "staged" / "checkpoints").is_dir() else ():
            shutil.copy2(f, judge_dir / "checkpoints" / f.name)
        if _should_run(run_notebook, Path(solutions) / name, work / "staged"):
            executed, audit, files, problem = _run_notebook(
                work / "staged", nb_file, lim, kernel_env, timeout, cell_timeout
            )
            if problem:
                outcome.notes.append(problem)
            for rel, data in files.items():
                (judge_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                (judge_dir / rel).write_bytes(data)
        outcome.phases["run"] = round(time.monotonic() - clock, 2)
        clock = time.monotonic()
        answers = student_answers(student_nb, source_nb) if not taken.notebook_error else []
        verdicts, problem = _judge(
            source_path,
            answers,
            judge_dir,
            work,
            profile,
            threads,
            lim,
            source_nb,
            cache=course / ".judge-cache",
            cell_timeout=cell_timeout,
        )
        outcome.phases["judge"] = round(time.monotonic() - clock, 2)
        if problem:
            outcome.error = problem
            outcome.notes.append(f"the grader could not finish judging this notebook: {problem}")
        graded = graded_notebook(skel, executed, verdicts, notes=outcome.notes)
        neutralize_markdown(graded)
        nbformat.write(graded, out_dir / nb_file)
        outcome.tamper += _tamper_flags(skel, release_nb, source_nb, executed, audit)
    except Exception as exc:  # noqa: BLE001 - a grader bug on one submission must not stop the others
        outcome.error = f"grading failed: {type(exc).__name__}: {exc}"
        fallback = graded_notebook(
            skeleton(nbformat.v4.new_notebook(), release_nb),
            None,
            {},
            notes=[*outcome.notes, "the grader failed on this submission; ask your instructor"],
        )
        nbformat.write(fallback, out_dir / nb_file)
        sub = course / "submitted" / student / name
        if not (sub / nb_file).exists():
            sub.mkdir(parents=True, exist_ok=True)
            nbformat.write(skeleton(nbformat.v4.new_notebook(), release_nb), sub / nb_file)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    outcome.seconds = time.monotonic() - start
    (out_dir / "outcome.json").write_text(json.dumps(dataclasses.asdict(outcome), indent=1))
    return outcome


def _should_run(mode: str, solution_dir: Path, staged: Path) -> bool:
    if mode == "always":
        return True
    if mode == "never":
        return False
    expected = {p.name for p in (solution_dir / "checkpoints").glob("*.pt")}
    present = {p.name for p in (staged / "checkpoints").glob("*.pt")} if (staged / "checkpoints").is_dir() else set()
    return not expected or not expected <= present


RUN_FILES = {"run.json": 1 << 20, "executed.ipynb": 64 << 20, "audit.jsonl": 4 << 20}


def _run_notebook(staged: Path, nb_file: str, lim: sandbox.Limits, env: dict, timeout: float, cell_timeout: int):
    """Run the notebook in a sandbox; (executed notebook or None, audit log, checkpoint files, problem)."""
    box = sandbox.Sandbox(
        [
            "python",
            "-m",
            "sandboxed.runner",
            nb_file,
            "--cell-timeout",
            str(cell_timeout),
            "--budget",
            str(max(30.0, timeout - 30)),
        ],
        ro_binds=[(str(staged), "/staged")],
        env=env,
        limits=lim,
    )
    done = box.communicate(stdout_cap=lim.scratch_mb * 2**20 + (80 << 20))
    files, problem = {}, ""
    if done.timed_out:
        problem = f"your notebook did not finish within {timeout:.0f} s; cells after that point did not run"
    elif done.over_limit:
        problem = "your notebook's files were over the size limit of a submission"
    try:
        with tarfile.open(fileobj=io.BytesIO(done.stdout), mode="r:") as tar:
            for member in tar:
                cap = RUN_FILES.get(member.name)
                parts = member.name.split("/")
                if (
                    cap is None
                    and len(parts) == 2
                    and parts[0] in ("checkpoints", "figures")
                    and intake.NAME.match(parts[1])
                    and parts[1].endswith((".pt", ".json", ".png"))
                ):
                    cap = int(intake.Caps().checkpoint_mb * 2**20)
                if cap is None or not member.isreg() or member.size > cap:
                    continue
                files[member.name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError):
        if not problem:
            problem = "your notebook's run produced no readable results (did it stop the kernel or the grader?)"
    report = {}
    try:
        report = json.loads(files.pop("run.json", b"{}"))
    except ValueError:
        pass
    stopped = report.get("stopped") if isinstance(report, dict) else None
    if isinstance(stopped, str) and stopped and not problem:
        problem = f"your notebook stopped early: {stopped[:300]}"
    executed = read_executed(files.pop("executed.ipynb")) if "executed.ipynb" in files else None
    audit = files.pop("audit.jsonl", b"")
    return executed, audit, {k: v for k, v in files.items() if k.startswith("checkpoints/")}, problem


def _judge(
    source_path: Path,
    answers,
    judge_dir: Path,
    work: Path,
    profile: str,
    threads: dict,
    lim: sandbox.Limits,
    source_nb,
    cache: Path | None = None,
    cell_timeout: int | None = None,
) -> tuple[dict, str]:
    """Run the trusted judge on one submission; (verdicts, problem)."""
    cells = graded_cells(source_nb)
    cell_timeout = cell_timeout or settings.cell_timeout()
    budget = (
        sum(
            cell_timeout if nbgrader_meta(c)["grade_id"].startswith("test_threshold_") else settings.unit_timeout()
            for c in cells
        )
        + 300
    )
    env_inside = {"COURSE_PROFILE": profile, **threads}
    spec = {
        "source": str(source_path.resolve()),
        "answers": answers,
        "workdir": str(judge_dir),
        "out": str(work / "verdicts.json"),
        "cell_timeout": cell_timeout,
        "unit_timeout": settings.unit_timeout(),
        "cache": str(cache) if cache else "",
        "limits": dataclasses.asdict(lim.override(wall_s=budget)),
        "env": env_inside,
    }
    (work / "judge.json").write_text(json.dumps(spec))
    repo = str(Path(__file__).resolve().parent.parent)
    env = dict(
        os.environ,
        COURSE_PROFILE=profile,
        COURSE_REQUIRE_PROFILE=profile,
        COURSE_PROGRESS="0",
        MPLBACKEND="Agg",
        **threads,
    )
    env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("NBGRADER_EXECUTION", None)

    def limit() -> None:
        import resource

        mem = JUDGE_MEMORY_MB * 2**20
        resource.setrlimit(resource.RLIMIT_DATA, (mem, mem))

    try:
        proc = subprocess.run(
            [sys.executable, "-m", "autograder.judge", str(work / "judge.json")],
            cwd=judge_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=budget + 60,
            preexec_fn=limit,
        )
    except subprocess.TimeoutExpired:
        return {}, f"the judge did not finish within {budget + 60:.0f} s"
    try:
        result = json.loads((work / "verdicts.json").read_text())
    except (OSError, ValueError):
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        return {}, f"the judge stopped (exit status {proc.returncode}): {' / '.join(tail)[:500]}"
    startup = result.get("startup_error") or ""
    return result.get("verdicts", {}), (
        f"the probe holding the answer cells did not start: {startup}" if startup else ""
    )


def _tamper_flags(skel, release_nb, source_nb, executed, audit: bytes) -> list[str]:
    release_sources = [c.source for c in release_nb.cells if c.cell_type == "code"]
    ids = set(answer_ids(source_nb))
    cells = []
    for i, cell in enumerate(skel.cells):
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code" or meta.get("locked") or meta.get("grade"):
            continue
        label = f"answer cell {meta['grade_id']}" if meta.get("grade_id") in ids else "a cell of the student's"
        cells.append((i, label, cell.source))
    flags = tamper.scan(cells, release_sources)
    if audit:
        # events of the release's own cells (the course's imports, its plotting) are not the student's
        known = {s.strip() for s in release_sources}
        counts = {}
        if executed is not None:
            for i, cell in enumerate(executed.cells):
                count = cell.get("execution_count")
                if isinstance(count, int) and cell.get("source", "").strip() not in known:
                    counts[count] = i
        flags += tamper.audit_flags(audit, counts)
    return flags


# ------------------------------------------------------------------------------------ results


def _collect(course_dir: Path, pairs, outcomes: dict) -> list[Result]:
    from nbgrader.api import Gradebook, MissingEntry

    results = []
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        for student, name in pairs:
            o = outcomes[(student, name)]
            try:
                sub = gb.find_submission(name, student)
            except MissingEntry:
                results.append(
                    Result(
                        student,
                        name,
                        0.0,
                        _max_score(gb, name),
                        {},
                        o.seconds,
                        o.error or "not graded",
                        tamper=o.tamper,
                        notes=o.notes,
                    )
                )
                continue
            cells, written = {}, {}
            for nb in sub.notebooks:
                for g in nb.grades:
                    cells[g.name] = (float(g.score), float(g.max_score))
                    if g.cell_type == "markdown":
                        written[g.name] = bool(g.needs_manual_grade)
            reasons = cell_errors(course_dir / "autograded" / student / name / f"{name}.ipynb")
            results.append(
                Result(
                    student,
                    name,
                    float(sub.score),
                    float(sub.max_score),
                    cells,
                    o.seconds,
                    o.error,
                    reasons,
                    tamper=o.tamper,
                    notes=o.notes,
                    written=written,
                )
            )
    return results


def cell_errors(notebook: Path) -> dict[str, str]:
    """grade_id -> 'ErrorName: first line of the message' for each graded cell that failed.

    When an earlier cell that is not graded had already failed (a training cell that refused a
    checkpoint, an answer cell left unimplemented), the reason names that first failure too: the
    graded cell's own error is usually just its consequence.
    """
    if not notebook.is_file():
        return {}
    reasons, first = {}, ""
    for cell in nbformat.read(notebook, as_version=4).cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code":
            continue
        error = next((out for out in cell.get("outputs", []) if out.get("output_type") == "error"), None)
        if error is None:
            continue
        message = (error.get("evalue") or "").strip().splitlines()
        text = f"{error.get('ename')}: {message[0][:400] if message else ''}".rstrip(": ")
        if not meta.get("grade"):
            first = first or text
            continue
        reasons[meta["grade_id"]] = text + (f" (after an earlier cell failed: {first[:300]})" if first else "")
    return reasons


def _max_score(gb, name) -> float:
    return float(gb.find_assignment(name).max_score)


def format_table(results: list[Result]) -> str:
    """A plain-text grade table."""
    rows = [("student", "assignment", "score", "max", "written", "seconds", "note")]
    rows += [
        (
            r.student,
            r.assignment,
            f"{r.score:g}",
            f"{r.max_score:g}",
            _written_state(r),
            f"{r.seconds:.0f}",
            (r.error or ("flagged: " + r.tamper[0] if r.tamper else ""))[:60],
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def _written_state(r: Result) -> str:
    """'-' (no written answers), else 'N to grade': the answers still waiting for a TA's grade."""
    return f"{sum(r.written.values())} to grade" if r.written else "-"


def write_csv(results: list[Result], path: Path) -> None:
    """Per-cell scores, one row per (student, assignment, cell)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "cell", "score", "max_score"])
        for r in results:
            for cell, (score, mx) in sorted(r.cells.items()):
                w.writerow([r.student, r.assignment, cell, score, mx])
