"""The sandbox that runs student code: who it runs as, what it sees, what it may do, and that nothing
it starts outlives it. Each test runs a small program inside and checks from outside."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest

from autograder import sandbox, seccomp

REPO = Path(__file__).resolve().parent.parent


def _run(code: str, **kwargs) -> sandbox.Completed:
    kwargs.setdefault("limits", sandbox.Limits(wall_s=60, scratch_mb=64))
    return sandbox.run(["python", "-c", code], **kwargs)


def _out(done: sandbox.Completed) -> str:
    assert not done.timed_out, done
    return done.stdout.decode()


@pytest.fixture(scope="module", autouse=True)
def isolation():
    sandbox.check()  # fails (not skips) where grading could not isolate student code


def test_seccomp_numbers_match_the_kernel_headers():
    """The denied system calls by name, against this machine's kernel headers (the independent source)."""
    headers = {
        "x86_64": Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
        "aarch64": Path("/usr/include/asm-generic/unistd.h"),
    }
    checked = 0
    for machine, header in headers.items():
        if not header.is_file():
            continue
        numbers: dict[str, int] = {}
        for m in re.finditer(r"#define __NR(?:3264)?_(\w+)\s+(\d+)", header.read_text()):
            numbers.setdefault(m.group(1), int(m.group(2)))
        for name, nr in seccomp.DENIED[machine].items():
            if name in numbers:
                assert numbers[name] == nr, (machine, name)
                checked += 1
        assert numbers["clone"] == seccomp.CLONE[machine] and numbers["clone3"] == seccomp.CLONE3
    assert checked > 60, "no kernel header to check against (install linux-libc-dev)"
    assert len(seccomp.program("x86_64")) % 8 == 0 and len(seccomp.program("aarch64")) % 8 == 0


def test_runs_as_nobody_without_capabilities_in_private_namespaces():
    out = _out(
        _run(
            "import os\nprint(os.getuid(), os.getgid(), os.getgroups())\n"
            "print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])\n"
            "print(open('/proc/self/status').read().split('NoNewPrivs:')[1].split()[0])\n"
            "print(sorted(os.listdir('/proc'))[:0], len([p for p in os.listdir('/proc') if p.isdigit()]))"
        )
    )
    uid_line, cap, nnp, procs = out.splitlines()
    assert uid_line.startswith("65534 65534")
    assert int(cap, 16) == 0 and nnp == "1"
    assert int(procs.split()[-1]) <= 3  # a PID namespace: the host's processes are not there


def test_the_host_sees_the_sandboxed_process_as_nobody():
    box = sandbox.Sandbox(
        ["python", "-c", "import time; print('up', flush=True); time.sleep(30)"],
        limits=sandbox.Limits(wall_s=60, scratch_mb=16),
    )
    try:
        box.proc.stdout.readline()
        uids = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"time.sleep(30)" in cmd and not cmd.startswith(b"bwrap") and b"setpriv" not in cmd:
                uids.append(int(status.split("Uid:")[1].split()[0]))
        assert uids and set(uids) == {65534}, uids
    finally:
        box.kill()


def test_seccomp_refuses_namespace_mount_and_trace_calls_but_allows_threads_and_fork():
    out = _out(
        _run(
            "import ctypes, errno, os, threading\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "def err(r): return 'ok' if r == 0 else errno.errorcode.get(ctypes.get_errno())\n"
            "print('unshare', err(libc.unshare(0x40000000)))\n"
            "print('unshare_user', err(libc.unshare(0x10000000)))\n"
            "fd = os.open('/proc/self/ns/net', os.O_RDONLY)\n"
            "print('setns', err(libc.setns(fd, 0)))\n"
            "print('clone_newnet', err(libc.syscall(56 if os.uname().machine == 'x86_64' else 220, 0x40000000 | 17, 0, 0, 0, 0)))\n"
            "print('ptrace', err(libc.syscall(101 if os.uname().machine == 'x86_64' else 117, 0, 1, 0, 0)))\n"
            "print('mount', err(libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)))\n"
            "pid = os.fork()\n"
            "if pid == 0: os._exit(7)\n"
            "print('fork', os.waitpid(pid, 0)[1] >> 8)\n"
            "t = threading.Thread(target=lambda: None); t.start(); t.join(); print('thread ok')\n"
        )
    )
    lines = dict(line.split(" ", 1) for line in out.splitlines())
    for call in ("unshare", "unshare_user", "setns", "clone_newnet", "ptrace", "mount"):
        assert lines[call] == "EPERM", (call, out)
    assert lines["fork"] == "7" and lines["thread"] == "ok"


def _listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    hits, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                hits.append(1)
                conn.close()
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server.getsockname()[1], hits, lambda: (stop.set(), thread.join(), server.close())


def test_no_network_but_its_own_loopback():
    port, hits, close = _listener()
    try:
        out = _out(
            _run(
                "import socket\n"
                f"for host, port in (('127.0.0.1', {port}), ('8.8.8.8', 53), ('10.0.2.2', 80)):\n"
                "    try:\n        socket.create_connection((host, port), timeout=2); print('reached', host)\n"
                "    except OSError as e: print('refused', host)\n"
                "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); c = socket.create_connection(s.getsockname())\n"
                "print('own loopback ok')"
            )
        )
    finally:
        close()
    assert hits == [] and "reached" not in out and "own loopback ok" in out


def test_sees_only_the_environment_course_lib_and_its_scratch():
    out = _out(
        _run(
            "import os, importlib.util\n"
            f"print(os.path.exists({str(REPO / 'solutions')!r}), os.path.exists({str(REPO / 'autograder')!r}))\n"
            "print(importlib.util.find_spec('autograder') is None, importlib.util.find_spec('course_lib') is not None)\n"
            "print(os.path.exists('/root/.ssh'), os.path.exists('/etc/shadow'), os.path.exists('/home'))\n"
            "for path in ('/usr/x', '/etc/x', '/opt/dgm/x'):\n"
            "    try: open(path, 'w'); print('wrote', path)\n"
            "    except OSError: pass\n"
            "open('/submission/a', 'w').write('x'); open('/tmp/b', 'w').write('y'); print('scratch ok')\n"
            "print(sorted(k for k in os.environ if 'TOKEN' in k or 'SECRET' in k or k == 'PYTEST_CURRENT_TEST'))"
        )
    )
    lines = out.splitlines()
    assert lines[0] == "False False" and lines[1] == "True True"
    assert lines[2] == "False False False"
    assert "wrote" not in out and "scratch ok" in out and lines[-1] == "[]"


def test_scratch_memory_and_file_size_limits():
    limits = sandbox.Limits(wall_s=60, scratch_mb=32, memory_mb=600, file_mb=8)
    out = _out(
        _run(
            "import errno\n"
            "try:\n    b = bytearray(900 * 2**20); print('allocated')\nexcept MemoryError: print('memory refused')\n"
            "import signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "try:\n    open('/submission/big', 'wb').write(b'x' * (9 * 2**20)); print('big written')\n"
            "except OSError as e: print('file', errno.errorcode[e.errno])\n"
            "n = 0\n"
            "try:\n    for i in range(10):\n        open(f'/submission/f{i}', 'wb').write(b'x' * (7 * 2**20)); n += 1\n"
            "except OSError as e: print('scratch', errno.errorcode[e.errno], n)\n",
            limits=limits,
        )
    )
    assert "memory refused" in out and "file EFBIG" in out
    assert re.search(r"scratch ENOSPC [0-5]\b", out), out


def test_wall_clock_kills_the_whole_tree_and_held_pipes_do_not_stretch_it():
    token = f"dgm-test-{os.getpid()}-{time.monotonic_ns()}"
    code = (
        "import subprocess, sys\n"
        "subprocess.Popen(['sleep', '1000'], start_new_session=True)\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(1000)  # {token}'])\n"
        "print('started', flush=True)\n"
    )
    start = time.monotonic()
    done = _run(code, limits=sandbox.Limits(wall_s=30, scratch_mb=16))
    assert not done.timed_out and "started" in done.stdout.decode()
    assert time.monotonic() - start < 20, "a child holding the pipes kept the sandbox alive"
    time.sleep(0.5)
    alive = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if token.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                alive.append(pid)
        except OSError:
            pass
    assert alive == [], "a process the sandbox started outlived it"
    start = time.monotonic()
    done = _run("import time\nwhile True: time.sleep(1)", limits=sandbox.Limits(wall_s=3, scratch_mb=16))
    assert done.timed_out and time.monotonic() - start < 15


def test_isolation_missing_is_refused_with_what_to_do(monkeypatch):
    sandbox._probe_isolation.cache_clear()
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    monkeypatch.delenv(sandbox.UNSANDBOXED_ENV, raising=False)
    try:
        with pytest.raises(sandbox.IsolationUnavailable) as info:
            sandbox.check()
        message = str(info.value)
        assert "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)" in message
        assert f"set {sandbox.UNSANDBOXED_ENV}=1 to grade anyway" in message
        monkeypatch.setenv(sandbox.UNSANDBOXED_ENV, "1")
        sandbox.check()  # waived knowingly
    finally:
        sandbox._probe_isolation.cache_clear()


def test_a_grader_killed_outright_takes_its_sandboxes_with_it(tmp_path):
    """The grader may be killed with SIGKILL (an OOM kill, a cancelled CI job): no sandbox survives it."""
    import subprocess
    import sys

    token = f"orphan-{os.getpid()}-{time.monotonic_ns()}"
    script = tmp_path / "grader.py"
    script.write_text(
        "import os\nfrom autograder import sandbox\n"
        f"box = sandbox.Sandbox(['python', '-c', 'import time; print(1, flush=True); time.sleep(300)  # {token}'],"
        " limits=sandbox.Limits(wall_s=600, scratch_mb=16))\n"
        "box.proc.stdout.readline()\nos._exit(0)\n"
    )
    subprocess.run(
        [sys.executable, str(script)], cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=120, check=True
    )
    time.sleep(1)
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if token.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                left.append(pid)
        except OSError:
            pass
    assert left == [], "a sandbox outlived the grader that started it"
