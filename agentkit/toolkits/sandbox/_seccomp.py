"""A small seccomp filter handed to bubblewrap (`--seccomp FD`): the syscalls a sandboxed program never needs.

Found by attacking the sandbox: on a root host the program runs as an unprivileged uid *without* a user
namespace (so that RLIMIT_NPROC holds), and an unprivileged process may still create its own user namespace with
`unshare(CLONE_NEWUSER)`. It gains nothing on the host's files there, but it opens a large kernel surface.
The filter refuses that, 32-bit syscall entry points (which would bypass a filter keyed on 64-bit numbers),
and a few kernel interfaces with a history of privilege escalations. Classic BPF, written out by hand.
"""

from __future__ import annotations

import errno
import os
import platform
import struct

# BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06

_RET_ALLOW = 0x7FFF0000
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_CLONE_NEWUSER = 0x10000000
_X32_SYSCALL_BIT = 0x40000000

# offsets in struct seccomp_data
_NR, _ARCH, _ARG0_LOW = 0, 4, 16

_ARCHES: dict[str, tuple[int, dict[str, int]]] = {
    "x86_64": (0xC000003E, {
        "clone": 56, "unshare": 272, "clone3": 435, "setns": 308, "ptrace": 101, "keyctl": 250, "add_key": 248,
        "request_key": 249, "bpf": 321, "userfaultfd": 323, "perf_event_open": 298, "mount": 165, "umount2": 166,
        "pivot_root": 155, "kexec_load": 246, "init_module": 175, "finit_module": 313, "delete_module": 176,
        "open_by_handle_at": 304, "io_uring_setup": 425, "fsopen": 430, "fsmount": 432, "move_mount": 429,
        "open_tree": 428,
    }),
    "aarch64": (0xC00000B7, {
        "clone": 220, "unshare": 97, "clone3": 435, "setns": 268, "ptrace": 117, "keyctl": 219, "add_key": 217,
        "request_key": 218, "bpf": 280, "userfaultfd": 282, "perf_event_open": 241, "mount": 40, "umount2": 39,
        "pivot_root": 41, "kexec_load": 104, "init_module": 105, "finit_module": 273, "delete_module": 106,
        "open_by_handle_at": 265, "io_uring_setup": 425, "fsopen": 430, "fsmount": 432, "move_mount": 429,
        "open_tree": 428,
    }),
}
_DENIED = ("setns", "ptrace", "keyctl", "add_key", "request_key", "bpf", "userfaultfd", "perf_event_open", "mount",
           "umount2", "pivot_root", "kexec_load", "init_module", "finit_module", "delete_module", "open_by_handle_at",
           "io_uring_setup", "fsopen", "fsmount", "move_mount", "open_tree")


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def filter_program(machine: str | None = None) -> bytes | None:
    """The compiled filter for this machine's architecture, or None where it is not written (then: no filter)."""
    arch = _ARCHES.get(machine or platform.machine())
    if arch is None:
        return None
    audit_arch, numbers = arch
    eperm = _RET_ERRNO | errno.EPERM
    enosys = _RET_ERRNO | errno.ENOSYS
    denied = [numbers[name] for name in _DENIED]
    # Layout: header (arch check, x32 check), one compare per denied syscall, clone/unshare flag checks, clone3.
    body: list[bytes] = []
    tail_len = len(denied) + 3 + 1  # denied compares + clone/unshare/clone3 compares + final allow
    body.append(_insn(_LD_W_ABS, _ARCH))
    body.append(_insn(_JEQ_K, audit_arch, 1, 0))
    body.append(_insn(_RET_K, _RET_KILL_PROCESS))
    body.append(_insn(_LD_W_ABS, _NR))
    if audit_arch == 0xC000003E:  # x32 syscalls share the x86_64 arch value, marked by a bit in the number
        body.append(_insn(_JGE_K, _X32_SYSCALL_BIT, 0, 1))
        body.append(_insn(_RET_K, eperm))
    for index, number in enumerate(denied):
        to_eperm = tail_len - index - 1 + 1  # skip the remaining compares and the allow, land on "ret EPERM"
        body.append(_insn(_JEQ_K, number, to_eperm, 0))
    # clone and unshare jump past "enosys, allow, eperm" to the flag check; clone3 gets ENOSYS
    body.append(_insn(_JEQ_K, numbers["clone"], 5, 0))
    body.append(_insn(_JEQ_K, numbers["unshare"], 4, 0))
    body.append(_insn(_JEQ_K, numbers["clone3"], 0, 1))
    body.append(_insn(_RET_K, enosys))  # clone3 passes flags in memory; ENOSYS makes libc fall back to clone
    body.append(_insn(_RET_K, _RET_ALLOW))
    body.append(_insn(_RET_K, eperm))
    body.append(_insn(_LD_W_ABS, _ARG0_LOW))  # clone / unshare: refuse a new user namespace, allow the rest
    body.append(_insn(_JSET_K, _CLONE_NEWUSER, 0, 1))
    body.append(_insn(_RET_K, eperm))
    body.append(_insn(_RET_K, _RET_ALLOW))
    return b"".join(body)


def filter_fd() -> int | None:
    """A pipe's read end holding the program (bwrap reads it once), or None on unsupported architectures."""
    program = filter_program()
    if program is None:
        return None
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, program)
    finally:
        os.close(write_end)
    return read_end
