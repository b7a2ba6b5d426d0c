"""Run the student's notebook inside the sandbox: what it trains, draws and prints.

``python -m sandboxed.runner NOTEBOOK --cell-timeout S --budget S`` copies the staged submission
(read-only at ``/staged``) into the working folder, executes NOTEBOOK there cell by cell with a
Jupyter kernel (errors recorded, not raised; a cell over its timeout is interrupted; after ``--budget``
seconds no further cell starts), shuts the kernel down and writes one tar stream to its standard
output: ``executed.ipynb``, ``run.json`` (what happened), ``audit.jsonl`` (what the audit hook saw) and
the regular files under ``checkpoints/`` and ``figures/``. The protocol descriptor is private, so
what the notebook prints cannot mix into the stream. The trusted side treats all of it as untrusted
data: it decides no points.

The kernel starts with an audit hook (PEP 578) that records, per executed cell, attempts to start
processes, send signals, open network connections, write outside the working folder or install
tracing and audit hooks. A submission could erase that record; it is a hint for instructors, not a
defence (the sandbox is the defence).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tarfile
import time
from pathlib import Path

WORK = Path(os.environ.get("DGM_WORK", "/submission"))
STAGED = Path(os.environ.get("DGM_STAGED", "/staged"))
AUDIT_LOG = "/tmp/dgm-audit.jsonl"

AUDIT_HOOK = r'''
"""Grading sandbox: records suspicious events per executed cell (a hint for instructors)."""
import json as _json
import sys as _sys

def _dgm_install():
    log = open(%(log)r, "a", buffering=1)
    work = %(work)r
    busy = [False]
    events = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
              "os.kill", "os.killpg", "socket.connect", "socket.bind", "sys.settrace", "sys.setprofile",
              "sys.addaudithook", "ctypes.dlsym"}
    paths = {"open", "os.remove", "os.rename", "os.chmod", "shutil.rmtree", "os.rmdir", "os.symlink", "os.link"}
    symbols = {"setns", "unshare", "mount", "ptrace", "prctl", "syscall", "seccomp", "personality"}

    def cell():
        try:  # ipykernel has already counted the running cell: its number is one less
            return get_ipython().execution_count - 1
        except Exception:
            return None

    def outside(path):
        if isinstance(path, bytes):
            path = path.decode(errors="replace")
        if not isinstance(path, str):
            return False
        return ".." in path.split("/") or (path.startswith("/") and not path.startswith((work, "/tmp/", "/dev/null")))

    def from_cell():
        frame = _sys._getframe(2)
        while frame is not None:
            name = frame.f_code.co_filename
            if name.startswith(("/tmp/ipykernel_", "<ipython-input-")):
                return True
            frame = frame.f_back
        return False

    def hook(event, args):
        if busy[0]:
            return
        if event in paths:
            if event == "open" and not (len(args) > 1 and isinstance(args[1], str) and any(c in args[1] for c in "wax+")):
                return
            if not args or not outside(args[0]):
                return
        elif event not in events:
            return
        elif event == "ctypes.dlsym" and not (len(args) > 1 and str(args[1]) in symbols):
            return
        elif event == "socket.connect" and len(args) > 1 and isinstance(args[1], (str, bytes)):
            return  # a unix socket path
        busy[0] = True
        try:
            if not from_cell():  # the library's own background work (figure flushing, threads)
                return
            log.write(_json.dumps({"cell": cell(), "event": event, "detail": repr(args)[:300]}) + "\n")
        except Exception:
            pass
        finally:
            busy[0] = False

    _sys.addaudithook(hook)

_dgm_install()
del _dgm_install
'''


def _install_audit_hook() -> None:
    startup = Path(os.environ.get("IPYTHONDIR", "/tmp/ipython")) / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-dgm-audit.py").write_text(AUDIT_HOOK % {"log": AUDIT_LOG, "work": str(WORK) + "/"})


def execute(notebook: Path, *, cell_timeout: float, budget: float) -> dict:
    """Execute ``notebook`` in place; return what happened."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb,
        timeout=int(cell_timeout),
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        record_timing=False,
        resources={"metadata": {"path": str(WORK)}},
    )
    stop_at = time.monotonic() + budget
    report = {"executed": 0, "stopped": "", "cells": len(nb.cells)}
    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                if time.monotonic() > stop_at:
                    report["stopped"] = f"the time budget of {budget:.0f} s was used up before cell {index}"
                    break
                try:
                    client.execute_cell(cell, index)
                except DeadKernelError:
                    cell.outputs.append(
                        nbformat.v4.new_output(
                            "error",
                            ename="DeadKernelError",
                            evalue="the kernel died while running this cell",
                            traceback=["DeadKernelError: the kernel died while running this cell"],
                        )
                    )
                    report["stopped"] = f"the kernel died in cell {index}"
                    break
                except Exception as exc:  # noqa: BLE001 - a cell nbclient cannot finish stops the run
                    report["stopped"] = f"cell {index} could not be run: {type(exc).__name__}: {str(exc)[:300]}"
                    break
                report["executed"] += 1
    except Exception as exc:  # noqa: BLE001 - the kernel did not start, or did not shut down
        report["stopped"] = (
            report["stopped"] or f"the notebook could not be run: {type(exc).__name__}: {str(exc)[:300]}"
        )
    nbformat.write(nb, notebook)
    return report


def _tar_outputs(out, notebook: Path, report: dict) -> None:
    with tarfile.open(fileobj=out, mode="w|") as tar:

        def add_bytes(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add_bytes("run.json", json.dumps(report).encode())
        if notebook.is_file() and not notebook.is_symlink():
            tar.add(notebook, arcname="executed.ipynb", recursive=False)
        if os.path.isfile(AUDIT_LOG) and not os.path.islink(AUDIT_LOG):
            tar.add(AUDIT_LOG, arcname="audit.jsonl", recursive=False)
        for folder in ("checkpoints", "figures"):
            base = WORK / folder
            if not base.is_dir() or base.is_symlink():
                continue
            for item in sorted(base.iterdir()):
                if item.is_file() and not item.is_symlink():
                    tar.add(item, arcname=f"{folder}/{item.name}", recursive=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandboxed.runner")
    parser.add_argument("notebook")
    parser.add_argument("--cell-timeout", type=float, required=True)
    parser.add_argument("--budget", type=float, required=True)
    args = parser.parse_args(argv)
    out_fd = os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    log = os.open("/tmp/runner.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0), write_through=True)
    sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", buffering=0), write_through=True)
    WORK.mkdir(parents=True, exist_ok=True)
    if STAGED.is_dir():
        shutil.copytree(STAGED, WORK, dirs_exist_ok=True, symlinks=True)
    for folder in ("checkpoints", "figures"):
        (WORK / folder).mkdir(exist_ok=True)
    _install_audit_hook()
    notebook = WORK / args.notebook
    report = execute(notebook, cell_timeout=args.cell_timeout, budget=args.budget)
    with os.fdopen(out_fd, "wb") as out:
        _tar_outputs(out, notebook, report)


if __name__ == "__main__":
    main()
