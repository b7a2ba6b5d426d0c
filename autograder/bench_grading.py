"""Grading throughput: submissions autograded per minute, for ``--jobs 1`` and ``--jobs 2``.

``python -m autograder.bench_grading [ASSIGNMENT] [--copies N]`` stages N copies of the solution of
ASSIGNMENT (fast profile, with the checkpoints its solution run wrote, as students hand them in),
grades them with each jobs setting in a fresh course folder, and prints a Markdown table (also
written to bench/grading.md). Every copy must get full marks, or the run fails.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from . import REPO, SOLUTIONS
from .fixtures import stage
from .grade import grade


def run(name: str, copies: int, jobs_list=(1, 2), *, run_modes=("always",), log=print) -> list[dict]:
    ckpt = SOLUTIONS / name / "checkpoints"
    if not any(ckpt.glob("*.pt")):
        from .notebooks import run_notebook

        log(f"training the solution of {name} first (fast profile) ...")
        run_notebook(SOLUTIONS / name / f"{name}.ipynb", env={"COURSE_PROFILE": "fast", "COURSE_PROGRESS": "0"})
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        subs = tmp / "subs"
        one = stage(name, tmp / "one", checkpoints=ckpt, marker=tmp / "marker", kinds=("solution",))["solution"]
        for i in range(copies):
            shutil.copytree(one, subs / f"student{i:02d}" / name)
        for mode, jobs in [(m, j) for m in run_modes for j in jobs_list]:
            course = tmp / f"course-{mode}-jobs{jobs}"
            start = time.perf_counter()
            results = grade(subs, course, jobs=jobs, run_notebook=mode, log=lambda *_: None)
            seconds = time.perf_counter() - start
            bad = [r.student for r in results if r.score != r.max_score]
            if bad:
                raise RuntimeError(f"copies of the solution lost points: {bad}")
            rows.append(
                {
                    "assignment": name,
                    "run": mode,
                    "jobs": jobs,
                    "submissions": copies,
                    "seconds": seconds,
                    "per minute": 60 * copies / seconds,
                    "load": os.getloadavg()[0],
                }
            )
            log(f"run {mode}, jobs {jobs}: {copies} submissions in {seconds:.0f} s")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.bench_grading", description=__doc__)
    parser.add_argument("assignment", nargs="?", default="05_importance_sampling")
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--run-notebook", nargs="+", default=["always", "auto"], choices=("always", "auto", "never"))
    args = parser.parse_args(argv)
    os.environ.setdefault("COURSE_PROFILE", "fast")
    rows = run(args.assignment, args.copies, run_modes=tuple(args.run_notebook))
    lines = [
        f"{platform.machine()}, {os.cpu_count()} cores, fast profile, checkpoints submitted, sandboxed "
        "(notebook run and probe in bubblewrap, trusted judge)",
        "",
        "| assignment | --run-notebook | --jobs | submissions | seconds | submissions / minute | load (1 min) |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['assignment']} | {r['run']} | {r['jobs']} | {r['submissions']} | {r['seconds']:.0f} | "
        f"{r['per minute']:.2f} | {r['load']:.1f} |"
        for r in rows
    ]
    table = "\n".join(lines)
    print(table)
    out = REPO / "bench" / "grading.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(table + "\n")
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
