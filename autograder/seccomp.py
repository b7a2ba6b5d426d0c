"""A seccomp filter for the grading sandbox: no namespace, mount or kernel-changing system calls.

bubblewrap (``bwrap --seccomp FD``) installs the classic-BPF program :func:`program` returns after it
has built the sandbox, so the submission's processes cannot create or join namespaces (``unshare``,
``setns``, ``clone`` with a ``CLONE_NEW*`` flag), mount anything, trace other processes, load kernel
code or reach kernel interfaces a notebook never needs (keyrings, BPF, io_uring, perf events,
userfaultfd). Those calls fail with EPERM; ``clone3`` fails with ENOSYS, which makes the C library
fall back to ``clone``, whose flags the filter can inspect (``clone3`` passes them in memory). A
system call of another ABI than the machine's (x32 on x86-64, or 32-bit code) is refused as well.

The program is plain ``struct sock_filter`` records (see linux/filter.h and linux/seccomp.h); the
system call numbers are checked against the kernel headers in tests/test_sandbox.py.
"""

from __future__ import annotations

import errno
import platform
import struct

# linux/audit.h
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

# system calls refused with EPERM, by architecture (asm/unistd_64.h, asm-generic/unistd.h)
DENIED = {
    "x86_64": {
        "unshare": 272,
        "setns": 308,
        "mount": 165,
        "umount2": 166,
        "pivot_root": 155,
        "chroot": 161,
        "ptrace": 101,
        "process_vm_readv": 310,
        "process_vm_writev": 311,
        "pidfd_getfd": 438,
        "keyctl": 250,
        "add_key": 248,
        "request_key": 249,
        "bpf": 321,
        "perf_event_open": 298,
        "userfaultfd": 323,
        "kexec_load": 246,
        "kexec_file_load": 320,
        "init_module": 175,
        "finit_module": 313,
        "delete_module": 176,
        "open_by_handle_at": 304,
        "name_to_handle_at": 303,
        "swapon": 167,
        "swapoff": 168,
        "reboot": 169,
        "acct": 163,
        "quotactl": 179,
        "fanotify_init": 300,
        "sethostname": 170,
        "setdomainname": 171,
        "iopl": 172,
        "ioperm": 173,
        "open_tree": 428,
        "move_mount": 429,
        "fsopen": 430,
        "fsconfig": 431,
        "fsmount": 432,
        "fspick": 433,
        "mount_setattr": 442,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
    },
    "aarch64": {
        "unshare": 97,
        "setns": 268,
        "mount": 40,
        "umount2": 39,
        "pivot_root": 41,
        "chroot": 51,
        "ptrace": 117,
        "process_vm_readv": 270,
        "process_vm_writev": 271,
        "pidfd_getfd": 438,
        "keyctl": 219,
        "add_key": 217,
        "request_key": 218,
        "bpf": 280,
        "perf_event_open": 241,
        "userfaultfd": 282,
        "kexec_load": 104,
        "kexec_file_load": 294,
        "init_module": 105,
        "finit_module": 273,
        "delete_module": 106,
        "open_by_handle_at": 265,
        "name_to_handle_at": 264,
        "swapon": 224,
        "swapoff": 225,
        "reboot": 142,
        "acct": 89,
        "quotactl": 60,
        "fanotify_init": 262,
        "sethostname": 161,
        "setdomainname": 162,
        "open_tree": 428,
        "move_mount": 429,
        "fsopen": 430,
        "fsconfig": 431,
        "fsmount": 432,
        "fspick": 433,
        "mount_setattr": 442,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
    },
}
CLONE = {"x86_64": 56, "aarch64": 220}
CLONE3 = 435  # the same number on both
# CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET
CLONE_NEW_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
X32_SYSCALL_BIT = 0x40000000

# linux/filter.h opcodes and linux/seccomp.h return values
LD_W_ABS, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS = 0x7FFF0000, 0x00050000, 0x80000000
OFF_NR, OFF_ARCH, OFF_ARG0_LO = 0, 4, 16  # struct seccomp_data (little-endian)


def supported(machine: str | None = None) -> bool:
    return (machine or platform.machine()) in AUDIT_ARCH


def program(machine: str | None = None) -> bytes:
    """The filter for ``machine`` (default: this one) as bytes of ``struct sock_filter`` records."""
    machine = machine or platform.machine()
    if machine not in AUDIT_ARCH:
        raise ValueError(f"no seccomp filter for machine {machine!r}; supported: {', '.join(AUDIT_ARCH)}")
    denied = sorted(DENIED[machine].values())
    eperm, enosys = RET_ERRNO | errno.EPERM, RET_ERRNO | errno.ENOSYS
    # Layout: [arch check] [nr load] [x32 check] [one jeq per denied nr] [clone3] [clone] ... returns.
    # Jumps are relative to the next instruction; the return block sits at the end.
    body: list[tuple[int, int, int, int]] = []
    n_checks = len(denied)
    # indices (from the start of the return block) of: allow, eperm, enosys, kill
    ALLOW, EPERM_, ENOSYS_, KILL = range(4)
    # instructions before the return block
    head = 3  # ld arch, jeq arch, ld nr
    x32 = 1 if machine == "x86_64" else 0
    clone_block = 4  # jeq clone3, jeq clone, ld arg0, jset flags
    total = head + x32 + n_checks + clone_block + 1  # + the "allow" fall-through jump

    def to(i_here: int, target: int) -> int:
        return total + target - (i_here + 1)

    body.append((LD_W_ABS, 0, 0, OFF_ARCH))
    body.append((JEQ_K, 0, to(1, KILL), AUDIT_ARCH[machine]))
    body.append((LD_W_ABS, 0, 0, OFF_NR))
    if x32:
        i = len(body)
        body.append((JGE_K, to(i, EPERM_), 0, X32_SYSCALL_BIT))
    for nr in denied:
        i = len(body)
        body.append((JEQ_K, to(i, EPERM_), 0, nr))
    i = len(body)
    body.append((JEQ_K, to(i, ENOSYS_), 0, CLONE3))
    i = len(body)
    body.append((JEQ_K, 0, to(i, ALLOW), CLONE[machine]))  # not clone: allow
    body.append((LD_W_ABS, 0, 0, OFF_ARG0_LO))
    i = len(body)
    body.append((JSET_K, to(i, EPERM_), 0, CLONE_NEW_FLAGS))
    i = len(body)
    body.append((0x05, 0, 0, to(i, ALLOW)))  # BPF_JMP | BPF_JA: clone without namespace flags
    assert len(body) == total, (len(body), total)
    body += [(RET_K, 0, 0, RET_ALLOW), (RET_K, 0, 0, eperm), (RET_K, 0, 0, enosys), (RET_K, 0, 0, RET_KILL_PROCESS)]
    for _code, jt, jf, _k in body:
        if not (0 <= jt < 256 and 0 <= jf < 256):
            raise AssertionError("seccomp jump out of range")  # pragma: no cover
    return b"".join(struct.pack("=HBBI", code, jt, jf, k) for code, jt, jf, k in body)
