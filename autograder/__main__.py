"""python -m autograder {new-assignment,release,check-release,grade,demo,fixtures,calibrate,bundle,collect,
roster,formgrader,feedback,export}"""

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
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="wall-clock seconds of a notebook's run (default: what each assignment's profile says)",
    )
    p.add_argument(
        "--profile",
        choices=("fast", "full"),
        default=None,
        help="the profile graded (default: $COURSE_GRADING_PROFILE, else fast; never the machine's hardware)",
    )
    p.add_argument(
        "--run-notebook",
        choices=("always", "auto", "never"),
        default="always",
        help="run each notebook in the sandbox (always), only when a checkpoint is missing (auto), or never",
    )
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
    p = sub.add_parser("collect", help="an LMS download (zip) -> SUBMISSIONS/<student>/<assignment>/")
    p.add_argument("download", type=Path)
    p.add_argument("--assignment", required=True)
    p.add_argument("--out", type=Path, required=True, help="the submissions folder to fill")
    p.add_argument("--lms", choices=("canvas", "moodle", "blackboard", "folders", "files"), default="canvas")
    p.add_argument("--regexp", help="a zip_collect pattern with (?P<student_id>...) and (?P<file_id>...) instead")
    p.add_argument("--dry-run", action="store_true", help="only say what would be taken")
    p = sub.add_parser("roster", help="import a roster CSV (id, first_name, last_name, email) into the gradebook")
    p.add_argument("roster", type=Path)
    p.add_argument("--course-dir", type=Path, required=True)
    p = sub.add_parser("formgrader", help="JupyterLab with nbgrader's formgrader on a graded course folder")
    p.add_argument("--course-dir", type=Path, required=True)
    p = sub.add_parser("feedback", help="generate the feedback pages again (after manual grading), offline")
    p.add_argument("--course-dir", type=Path, required=True)
    p.add_argument("--return-zip", type=Path, help="also write one zip of ASSIGNMENT's pages to hand back")
    p.add_argument("--assignment", help="the assignment of --return-zip")
    p.add_argument("--submissions", type=Path, help="the collected submissions folder (LMS names for --return-zip)")
    p = sub.add_parser("export", help="grades.csv, grades_by_cell.csv (with comments), canvas.csv, moodle.csv")
    p.add_argument("--course-dir", type=Path, required=True)
    p = sub.add_parser(
        "new-assignment", help="a new assignment from the template (docs/ARCHITECTURE.md, Adding an assignment)"
    )
    p.add_argument("name", help="e.g. 06_flows (the package name is what follows the digits)")
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "formgrader":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")

    if args.command == "new-assignment":
        from .scaffold import create

        for path in create(args.name):
            print(f"wrote {path.relative_to(REPO)}")
        print(
            f"next: make release, run solutions/{args.name}/{args.name}.ipynb, python -m autograder calibrate "
            f"{args.name}, then copy the placed thresholds into its profile.py"
        )
        return 0
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
        from .sandbox import IsolationUnavailable

        try:
            kwargs = {"timeout": args.timeout} if args.timeout else {}
            results = grade(
                args.submissions,
                args.course_dir,
                jobs=args.jobs,
                dask_scheduler=args.dask_scheduler,
                profile=args.profile,
                run_notebook=args.run_notebook,
                **kwargs,
            )
        except (FileNotFoundError, ValueError, IsolationUnavailable) as exc:
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
    if args.command == "collect":
        from .collect import collect

        try:
            report = collect(
                args.download, args.assignment, args.out, lms=args.lms, regexp=args.regexp, dry_run=args.dry_run
            )
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(report.table())
        return 0
    if args.command == "roster":
        from .lms import RosterError, import_roster

        try:
            ids = import_roster(args.roster, args.course_dir)
        except (OSError, RosterError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"imported {len(ids)} student(s) into {args.course_dir / 'gradebook.db'}")
        return 0
    if args.command == "formgrader":
        from .formgrader import main as formgrader

        try:
            return formgrader(args.course_dir, extra)
        except FileNotFoundError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.command == "feedback":
        from .lms import regenerate_feedback, return_feedback

        print(f"feedback pages: {regenerate_feedback(args.course_dir)}")
        if args.return_zip:
            if not args.assignment:
                parser.error("--return-zip needs --assignment")
            out = return_feedback(args.course_dir, args.assignment, args.return_zip, submissions=args.submissions)
            print(f"to hand back: {out}")
        return 0
    if args.command == "export":
        from .lms import export

        for path in export(args.course_dir).values():
            print(f"wrote {path}")
        return 0
    return 2  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
