"""Run a grading command with limits: memory, CPU time, wall clock, and no network.

``python -m autograder.sandbox --memory-mb M --cpu-s S -- CMD ...`` sets RLIMIT_DATA (heap and
anonymous mappings, which is what a runaway tensor allocation takes) and RLIMIT_CPU for CMD and
every process it starts, brings the loopback interface up (Jupyter kernels talk to nbgrader over
127.0.0.1) and execs CMD. :func:`wrap` puts that inside ``unshare -n`` (a fresh network namespace:
loopback only, no route out) when the machine allows it.
"""
from __future__ import annotations

import argparse
import fcntl
import functools
import os
import resource
import shutil
import socket
import struct
import subprocess
import sys

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


@functools.lru_cache(maxsize=1)
def unshare_prefix() -> tuple[str, ...]:
    """The ``unshare`` invocation that works here for a private network namespace (empty if none)."""
    exe = shutil.which("unshare")
    if not exe:
        return ()
    for args in ((exe, "-n"), (exe, "-r", "-n")):
        try:
            if subprocess.run([*args, "true"], capture_output=True, timeout=10).returncode == 0:
                return args
        except (OSError, subprocess.TimeoutExpired):
            pass
    return ()


def wrap(cmd: list[str], *, memory_mb: int, cpu_s: int, network: bool = False) -> list[str]:
    """The command line that runs ``cmd`` in the sandbox."""
    inner = [sys.executable, "-m", "autograder.sandbox", f"--memory-mb={memory_mb}", f"--cpu-s={cpu_s}", "--", *cmd]
    return inner if network else [*unshare_prefix(), *inner]


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sH", b"lo", 0))
        flags = struct.unpack("16sH", ifr[:18])[1]
        if not flags & IFF_UP:
            fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | IFF_UP))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m autograder.sandbox")
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--cpu-s", type=int, required=True)
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("no command given")
    limit = args.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (args.cpu_s, args.cpu_s))
    try:
        _loopback_up()
    except OSError:
        pass  # not in a private namespace (or not allowed): loopback is already up
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()
