"""python -m autograder {release,check-release,grade,demo,fixtures,calibrate,bundle}"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import REPO


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="regenerate notebooks/ from solutions/")
    p.add_argument("assignments", nargs="*")
    p = sub.add_parser("check-release", help="fail if notebooks/ is stale or leaks solutions, hidden tests or outputs")
    p.add_argument("assignments", nargs="*")
    p = sub.add_parser("grade", help="autograde SUBMISSIONS/<student>/<assignment>/")
    p.add_argument("submissions", type=Path)
    p.add_argument("--course-dir", type=Path, required=True, help="scratch nbgrader course folder (outside the repo)")
    p.add_argument("--csv", type=Path, help="also write per-cell scores here")
    p.add_argument("--jobs", type=int, default=1, help="grade this many submissions at once on this machine")
    p.add_argument("--dask-scheduler", help="fan the grading out over a Dask distributed cluster (shared file system)")
    p.add_argument("--timeout", type=float, default=None, help="wall-clock seconds per submission (default 3600)")
    p = sub.add_parser("demo", help="release, run the solutions (fast profile), autograde, report")
    p.add_argument("--work", type=Path, default=REPO / "grading" / "demo")
    p = sub.add_parser("fixtures", help="stage grader-attacking submissions (see autograder/fixtures.py)")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--out", type=Path, default=REPO / "autograder" / "fixtures")
    p = sub.add_parser("calibrate", help="calibrate an assignment's fast-profile thresholds (docs/calibration/)")
    from .calibration.driver import add_arguments as calibrate_arguments

    calibrate_arguments(p)
    p = sub.add_parser("bundle", help="build the student archive")
    p.add_argument("--out", type=Path, default=REPO / "dist" / "student-bundle.zip")
    args = parser.parse_args(argv)

    if args.command == "release":
        from .release import generate

        for path in generate(args.assignments or None):
            print(f"wrote {path.relative_to(REPO)}")
        return 0
    if args.command == "check-release":
        from .release import check

        problems = check(args.assignments or None)
        for line in problems:
            print(line, file=sys.stderr)
        print("release OK" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0
    if args.command == "grade":
        from .grade import format_table, grade, write_csv

        try:
            kwargs = {"timeout": args.timeout} if args.timeout else {}
            results = grade(args.submissions, args.course_dir, jobs=args.jobs, dask_scheduler=args.dask_scheduler, **kwargs)
        except (FileNotFoundError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        from .report import write_summary

        print(format_table(results))
        if args.csv:
            write_csv(results, args.csv)
        if results:
            print(f"class summary: {write_summary(results, args.course_dir / 'reports')}")
        print(f"grades.csv: {args.course_dir / 'grades.csv'}")
        return 0
    if args.command == "demo":
        from .demo import main as demo

        return demo(args.work)
    if args.command == "fixtures":
        from .fixtures import main as fixtures

        return fixtures(args.assignments or None, args.out)
    if args.command == "calibrate":
        from .calibration.driver import run as calibrate

        return calibrate(args)
    if args.command == "bundle":
        from .bundle import build

        print(f"wrote {build(args.out)}")
        return 0
    return 2  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
