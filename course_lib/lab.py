"""Start JupyterLab with the course's view: ``python -m course_lib.lab [FOLDER] [--view student|instructor]``.

nbgrader installs its JupyterLab extensions for everyone: the instructor's (Create Assignment, the
formgrader) and the exchange's (Assignment List, Courses). This course hands assignments out and
collects them through its LMS, not through nbgrader's exchange, so:

* the **student** view (``make lab``, the student bundle) keeps only nbgrader's Validate button and
  turns every other nbgrader extension off, in the browser and on the server, so nothing fails on
  start ("Error fetching courses!") and no instructor tool shows;
* the **instructor** view (``python -m autograder formgrader``) keeps the formgrader and Create
  Assignment and turns off the exchange's lists.

Both work the same way on Linux, macOS and Windows: a folder of Jupyter configuration (written for
this run into a temporary folder) is put first on ``JUPYTER_CONFIG_PATH``; JupyterLab reads
``labconfig/page_config.json`` (browser extensions) and ``jupyter_server_config.json`` (server
extensions) from there, and nbgrader's Validate reads ``nbgrader_config.py`` (a cell timeout long
enough for a training cell). Nothing outside that temporary folder is changed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

NBGRADER = "@jupyter/nbgrader"
# (browser plugins off, server extensions off) per view
VIEWS = {
    "student": (
        (
            f"{NBGRADER}:menu",
            f"{NBGRADER}:create-assignment",
            f"{NBGRADER}:formgrader",
            f"{NBGRADER}:assignment-list",
            f"{NBGRADER}:course-list",
        ),
        (
            "nbgrader.server_extensions.formgrader",
            "nbgrader.server_extensions.assignment_list",
            "nbgrader.server_extensions.course_list",
        ),
    ),
    "instructor": (
        (f"{NBGRADER}:assignment-list", f"{NBGRADER}:course-list"),
        ("nbgrader.server_extensions.assignment_list", "nbgrader.server_extensions.course_list"),
    ),
}
# nbgrader's Validate runs the whole notebook: a training cell takes minutes without its checkpoint
VALIDATE_CELL_TIMEOUT_S = 1800
STUDENT_NBGRADER_CONFIG = f"""# written by course_lib.lab for nbgrader's Validate button (student view)
c = get_config()
c.Execute.timeout = {VALIDATE_CELL_TIMEOUT_S}
"""


def write_config(folder: Path, view: str = "student") -> Path:
    """Write the Jupyter configuration of ``view`` into ``folder`` (created); return ``folder``."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; expected one of {', '.join(VIEWS)}")
    plugins, server = VIEWS[view]
    folder = Path(folder)
    (folder / "labconfig").mkdir(parents=True, exist_ok=True)
    (folder / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {p: True for p in plugins}}, indent=1) + "\n"
    )
    (folder / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {s: False for s in server}}}, indent=1) + "\n"
    )
    if view == "student":
        (folder / "nbgrader_config.py").write_text(STUDENT_NBGRADER_CONFIG)
    return folder


def command(root: Path, config: Path, extra: list[str] | tuple[str, ...] = ()) -> tuple[list[str], dict[str, str]]:
    """The command line and the environment changes that start JupyterLab on ``root`` with the
    configuration folder ``config`` (see :func:`write_config`)."""
    old = os.environ.get("JUPYTER_CONFIG_PATH", "")
    env = {"JUPYTER_CONFIG_PATH": str(config) + (os.pathsep + old if old else "")}
    argv = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={Path(root).resolve()}", *extra]
    return argv, env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.lab",
        description=__doc__.split("\n\n")[0],
        epilog="Other options go to jupyter lab (e.g. --no-browser --port=8889).",
    )
    parser.add_argument("folder", nargs="?", default=".", type=Path, help="the folder to open (default: here)")
    parser.add_argument("--view", choices=tuple(VIEWS), default="student")
    args, extra = parser.parse_known_args(argv)
    if not args.folder.is_dir():
        print(f"error: no folder {args.folder}", file=sys.stderr)
        return 2
    if getattr(os, "geteuid", lambda: -1)() == 0:  # root (a container, Colab): Jupyter insists
        extra = ["--allow-root", *extra]
    config = Path(tempfile.mkdtemp(prefix=f"dgm-lab-{args.view}-"))
    try:
        write_config(config, args.view)
        cmd, env = command(args.folder, config, extra)
        print(f"JupyterLab ({args.view} view) on {args.folder.resolve()}; stop it with Ctrl+C", flush=True)
        try:
            return subprocess.call(cmd, env={**os.environ, **env})
        except KeyboardInterrupt:
            return 0
    finally:
        shutil.rmtree(config, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
