"""Run untrusted code (a student's notebook, or the probe that calls the student's functions) isolated.

Every sandboxed process is started by :class:`Sandbox` as:

* an unprivileged user: as root the grader first drops to ``nobody`` with ``setpriv`` (no groups, no
  capabilities, ``no_new_privs``); as another user it runs as that user;
* inside bubblewrap with private user, mount, PID, IPC, UTS, cgroup and network namespaces (loopback
  only), no capabilities, no further user namespaces (``--disable-userns``) and the seccomp filter of
  :mod:`autograder.seccomp` (no namespace, mount, ptrace or kernel-changing system calls);
* with resource limits (heap and anonymous memory, CPU seconds, processes, file size, open files, no
  core dumps) and a wall-clock deadline enforced from outside, pipes read with that deadline;
* seeing only: the system's /usr (and its /bin, /lib links), a few public files of /etc, the Python
  installation and virtual environment read-only, ``course_lib`` read-only, the grader's in-sandbox
  helpers (:mod:`autograder.sandboxed`, as ``/opt/dgm/sandboxed``), the course's data folder
  read-only, the folders the caller binds read-only, and size-capped private ``/tmp`` and ``/submission`` (the working folder).
  Nothing else of the repository (``autograder/``, ``solutions/``), the course folder, the gradebook
  or other submissions exists there.

When the sandbox's first process ends, the kernel kills every process left in its PID namespace, so
nothing a submission started (a detached child, a process holding a pipe) outlives it.

Where this isolation cannot be set up, :func:`check` raises :class:`IsolationUnavailable` saying what
is missing; ``COURSE_GRADE_UNSANDBOXED=1`` grades without it (the same processes, no isolation: only
for submissions you trust), and reports say so.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import platform
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import seccomp

NOBODY = 65534
UNSANDBOXED_ENV = "COURSE_GRADE_UNSANDBOXED"
SANDBOXED_DIR = Path(__file__).resolve().parent / "sandboxed"
INSIDE_HELPERS = "/opt/dgm"  # SANDBOXED_DIR appears as /opt/dgm/sandboxed
WORK = "/submission"  # the private, writable working folder inside (a size-capped tmpfs)
ETC_FILES = ("ld.so.cache", "passwd", "group", "nsswitch.conf", "localtime", "mime.types", "fonts", "matplotlibrc")


class IsolationUnavailable(RuntimeError):
    """The sandbox cannot be set up on this machine; the message says what is missing."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed process tree."""

    memory_mb: int = 8000  # RLIMIT_DATA: heap and anonymous mappings (what a tensor takes)
    cpu_s: int = 3600  # RLIMIT_CPU, per process
    wall_s: float = 3600.0  # wall clock, enforced from outside
    processes: int = 1024  # RLIMIT_NPROC (threads count: torch starts one per core)
    file_mb: int = 1024  # RLIMIT_FSIZE: the largest file it may write
    open_files: int = 4096
    scratch_mb: int = 2048  # size of the private /submission (and /tmp) tmpfs

    def override(self, **changes) -> Limits:
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown sandbox limits {sorted(unknown)}")
        return dataclasses.replace(self, **changes)


def unsandboxed() -> bool:
    """Whether the instructor asked to grade without isolation (``COURSE_GRADE_UNSANDBOXED=1``)."""
    return os.environ.get(UNSANDBOXED_ENV, "").strip() in ("1", "true", "yes")


@functools.lru_cache(maxsize=1)
def _probe_isolation() -> str:
    """'' when a sandbox starts here, else what is missing (cached: one trial run)."""
    if not sys.platform.startswith("linux"):
        return f"grading sandboxes need Linux (this is {sys.platform})"
    if not shutil.which("bwrap"):
        return "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    if not seccomp.supported():
        return f"no seccomp filter for this machine ({platform.machine()})"
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        return "setpriv (util-linux) is needed to drop root before starting the sandbox"
    try:
        proc = Sandbox(["/bin/true"], limits=Limits(wall_s=30, scratch_mb=16), python=False)
        out = proc.communicate()
    except OSError as exc:
        return f"bubblewrap could not start: {exc}"
    if out.returncode != 0:
        err = out.stderr.decode(errors="replace").strip().splitlines()
        hint = " (unprivileged user namespaces may be disabled: sysctl kernel.unprivileged_userns_clone=1)"
        return f"bubblewrap failed: {err[-1] if err else out.returncode}{hint}"
    return ""


def check() -> None:
    """Raise :class:`IsolationUnavailable` unless sandboxes can be started (or isolation is waived)."""
    if unsandboxed():
        return
    problem = _probe_isolation()
    if problem:
        raise IsolationUnavailable(
            f"cannot isolate student code: {problem}. Grading refuses to run student code unisolated; "
            f"set {UNSANDBOXED_ENV}=1 to grade anyway (only for submissions you trust)"
        )


@dataclasses.dataclass
class Completed:
    returncode: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool
    seconds: float
    over_limit: str = ""  # "stdout" / "stderr" when a stream passed its cap (the process was killed)


def _python_binds() -> list[str]:
    """Folders of the Python installation and environment the sandbox must see, read-only."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(sys.prefix).absolute()}
    return sorted(str(p) for p in roots)


def _course_lib_dir() -> Path:
    import course_lib

    return Path(course_lib.__file__).resolve().parent


def _masked_packages() -> list[str]:
    """Installed copies of the instructor package inside a bound folder (a non-editable install puts
    ``autograder`` into site-packages): the sandbox sees them as empty folders."""
    masks = []
    for root in _python_binds():
        for path in Path(root).glob("lib/python*/site-packages/autograder"):
            masks.append(str(path))
    return masks


def _data_dir() -> str | None:
    root = os.environ.get("COURSE_DATA") or str(Path.home() / ".cache" / "dgm-course" / "data")
    return root if Path(root).is_dir() else None


def bwrap_argv(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    ro_binds: Sequence[tuple[str, str]] = (),
    limits: Limits,
    cwd: str = WORK,
    gpu: bool = False,
    seccomp_fd: int = 3,
) -> list[str]:
    """The bubblewrap command line for ``argv`` (the seccomp program is read from ``seccomp_fd``)."""

    def ro(host, inside) -> list[str]:
        return ["--ro-bind", str(host), inside]

    args = [
        "bwrap",
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--uid",
        str(NOBODY),
        "--gid",
        str(NOBODY),
        "--hostname",
        "sandbox",
        "--clearenv",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
    ]
    scratch = str(limits.scratch_mb * 2**20)
    # the writable folders first: binds below a path the caller uses (a venv under /tmp) land on top
    args += [
        "--size",
        scratch,
        "--tmpfs",
        "/tmp",
        "--size",
        scratch,
        "--tmpfs",
        WORK,
        "--size",
        str(min(limits.scratch_mb, 256) * 2**20),
        "--tmpfs",
        "/dev/shm",
    ]
    for name in ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():
            args += ro(host, f"/{name}")
    for name in ETC_FILES:
        if (Path("/etc") / name).exists():
            args += ro(f"/etc/{name}", f"/etc/{name}")
    for path in _python_binds():
        args += ro(path, path)
    for path in _masked_packages():
        args += ["--tmpfs", path]
    lib = _course_lib_dir()
    args += ro(lib, str(lib)) + ro(SANDBOXED_DIR, f"{INSIDE_HELPERS}/sandboxed")
    data = _data_dir()
    if data:
        args += ro(data, data)
    for host, inside in ro_binds:
        args += ro(host, inside)
    if gpu:
        for dev in sorted(Path("/dev").glob("nvidia*")):
            args += ["--dev-bind", str(dev), str(dev)]
    for key, value in env.items():
        args += ["--setenv", key, value]
    # the root bubblewrap built the tree in is read-only: only the capped tmpfs mounts take writes
    args += ["--remount-ro", "/", "--chdir", cwd, "--seccomp", str(seccomp_fd), "--", *argv]
    return args


def sandbox_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment inside a sandbox: nothing of the grader's but what is listed here."""
    lib_parent = str(_course_lib_dir().parent)
    env = {
        "PATH": f"{Path(sys.prefix).absolute()}/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp/home",
        "USER": "nobody",
        "LOGNAME": "nobody",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": f"{INSIDE_HELPERS}:{lib_parent}",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/mpl",
        "IPYTHONDIR": "/tmp/ipython",
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter/runtime",
        "JUPYTER_DATA_DIR": "/tmp/jupyter/data",
        "JUPYTER_CONFIG_DIR": "/tmp/jupyter/config",
        "XDG_CACHE_HOME": "/tmp/home/.cache",
        "TMPDIR": "/tmp",
        "COURSE_PROGRESS": "0",
    }
    for key in (
        "COURSE_DATA",
        "COURSE_CHECKPOINT_MAX_MB",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "CUDA_VISIBLE_DEVICES",
        "COURSE_CHANNELS_LAST",
        "COURSE_COMPILE",
        "COURSE_CUDNN_BENCHMARK",
    ):
        if key in os.environ:
            env[key] = os.environ[key]
    if _data_dir() and "COURSE_DATA" not in env:
        env["COURSE_DATA"] = _data_dir()
    env.update(extra or {})
    return env


def _limit_preexec(limits: Limits):
    def apply() -> None:
        mem = limits.memory_mb * 2**20
        for res, value in (
            (resource.RLIMIT_DATA, mem),
            (resource.RLIMIT_CPU, limits.cpu_s),
            (resource.RLIMIT_NPROC, limits.processes),
            (resource.RLIMIT_FSIZE, limits.file_mb * 2**20),
            (resource.RLIMIT_NOFILE, limits.open_files),
            (resource.RLIMIT_CORE, 0),
        ):
            resource.setrlimit(res, (value, value))

    return apply


class Sandbox:
    """One sandboxed process with pipes on stdin, stdout and stderr.

    Args:
        argv: the command inside the sandbox (``python`` resolves to this environment's interpreter).
        env: extra environment variables (the rest is :func:`sandbox_env`).
        ro_binds: ``(host path, path inside)`` pairs to show read-only (e.g. a staged submission).
        python: whether ``argv[0] == "python"`` means this environment's interpreter.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        ro_binds: Sequence[tuple[str, str]] = (),
        limits: Limits = Limits(),
        gpu: bool = False,
        python: bool = True,
    ) -> None:
        argv = list(argv)
        if python and argv and argv[0] == "python":
            argv[0] = str(Path(sys.executable).absolute())
        self.limits = limits
        self.isolated = not unsandboxed()
        self.start = time.monotonic()
        full_env = sandbox_env(env)
        if self.isolated:
            read_fd, write_fd = os.pipe()
            os.write(write_fd, seccomp.program())
            os.close(write_fd)
            try:
                cmd = bwrap_argv(argv, env=full_env, ro_binds=ro_binds, limits=limits, gpu=gpu, seccomp_fd=read_fd)
                if os.geteuid() == 0:
                    cmd = _as_nobody(cmd, [h for h, _ in ro_binds])
                self.proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    preexec_fn=_limit_preexec(limits),
                    pass_fds=(read_fd,),
                    start_new_session=True,
                    env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                )
            finally:
                os.close(read_fd)
        else:
            inside = {str(i): str(h) for h, i in ro_binds}
            argv = [next((inside[k] + a[len(k) :] for k in inside if a == k or a.startswith(k + "/")), a) for a in argv]
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                preexec_fn=_limit_preexec(limits),
                start_new_session=True,
                env=_unsandboxed_env(full_env),
                cwd=_unsandboxed_cwd(),
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def remaining(self) -> float:
        return self.limits.wall_s - (time.monotonic() - self.start)

    def kill(self) -> None:
        """Kill the whole sandbox (its PID namespace goes with its first process)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream and stream.close()
            except OSError:
                pass

    def communicate(self, input: bytes = b"", *, stdout_cap: int = 64 * 2**20, stderr_cap: int = 2**20) -> Completed:
        """Send ``input``, read both pipes until the process ends or the deadline passes; kill it then.

        A stream over its cap kills the sandbox (``over_limit`` says which); stderr past its cap is cut.
        """
        proc = self.proc
        out, err = bytearray(), bytearray()
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        try:
            if input:
                proc.stdin.write(input)
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        timed_out, over = False, ""
        open_streams = 2
        while open_streams:
            left = self.remaining()
            if left <= 0:
                timed_out = True
                break
            for key, _ in sel.select(timeout=min(left, 1.0)):
                chunk = os.read(key.fileobj.fileno(), 1 << 16)
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                buf = key.data
                if buf is out and len(out) + len(chunk) > stdout_cap:
                    over = "stdout"
                    break
                if buf is err and len(err) + len(chunk) > stderr_cap:
                    chunk = chunk[: max(0, stderr_cap - len(err))]
                buf.extend(chunk)
            if over:
                break
        sel.close()
        if timed_out or over:
            self.kill()
        else:
            try:
                proc.wait(timeout=max(1.0, self.remaining()))
            except subprocess.TimeoutExpired:
                timed_out = True
                self.kill()
        return Completed(proc.returncode, bytes(out), bytes(err), timed_out, time.monotonic() - self.start, over)


def _blocked_ancestor(path: Path) -> Path | None:
    """The outermost folder above ``path`` that other users cannot traverse (None if every one can)."""
    for parent in reversed(path.absolute().parents):
        try:
            if not os.stat(parent).st_mode & 0o001:
                return parent
        except OSError:
            return None
    return None


def _as_nobody(inner: list[str], extra_sources: Sequence[str]) -> list[str]:
    """Run the bubblewrap command ``inner`` as ``nobody`` (we are root).

    Unprivileged bubblewrap must be able to resolve every folder it binds, and some live below folders
    ``nobody`` cannot enter (a Python installed in /root, pytest's 0700 temporary folders). A first,
    privileged bubblewrap (a mount namespace only) lays an empty, traversable tmpfs over each such
    folder and binds just the needed paths back; then ``setpriv`` drops to ``nobody`` with no groups,
    no capabilities and ``no_new_privs`` and starts ``inner``.
    """
    sources = [
        *_python_binds(),
        str(_course_lib_dir()),
        str(SANDBOXED_DIR),
        *(p for p in [_data_dir()] if p),
        *map(str, extra_sources),
    ]
    # --unshare-pid: everything below lives in this PID namespace, so when the grader dies (and with it,
    # by --die-with-parent, this bubblewrap) the kernel kills the whole sandbox too
    outer = ["bwrap", "--dev-bind", "/", "/", "--unshare-pid", "--die-with-parent"]
    blocked: dict[Path, list[str]] = {}
    for src in sources:
        top = _blocked_ancestor(Path(src))
        if top is not None:
            blocked.setdefault(top, []).append(src)
    for top in sorted(blocked, key=lambda p: len(p.parts)):
        outer += ["--perms", "0755", "--tmpfs", str(top)]
        made: set[Path] = set()
        for src in blocked[top]:
            for folder in reversed(Path(src).parents):  # bubblewrap would create these with mode 0700
                if top in folder.parents and folder not in made:
                    made.add(folder)
                    outer += ["--perms", "0755", "--dir", str(folder)]
            outer += ["--ro-bind", src, src]
    # --pdeathsig: changing the user clears the parent-death signal the outer bubblewrap set, so set it
    # again; then the sandbox dies with the grader even when the grader is killed outright
    drop = [
        "setpriv",
        f"--reuid={NOBODY}",
        f"--regid={NOBODY}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--pdeathsig",
        "KILL",
        "--",
    ]
    return [*outer, "--", *drop, *inner]


def _unsandboxed_env(env: Mapping[str, str]) -> dict[str, str]:
    """Without isolation: the same variables, with /tmp and /work mapped to a private folder."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="dgm-unsandboxed-"))
    fixed = {}
    for key, value in env.items():
        fixed[key] = value.replace("/tmp/", f"{root}/tmp/")
    (root / "work").mkdir()
    (root / "tmp").mkdir()
    fixed["DGM_WORK"] = str(root / "work")
    fixed["PYTHONPATH"] = f"{SANDBOXED_DIR.parent}:{_course_lib_dir().parent}"
    return fixed


def _unsandboxed_cwd() -> str:
    return "/"


def run(argv: Sequence[str], *, input: bytes = b"", **kwargs) -> Completed:
    """Run ``argv`` in a sandbox to the end (or its deadline) and return what it wrote."""
    stdout_cap = kwargs.pop("stdout_cap", 64 * 2**20)
    box = Sandbox(argv, **kwargs)
    return box.communicate(input, stdout_cap=stdout_cap)
