"""Run a command as root of a new user namespace that maps 65536 ids, as a rootless container does.

    python tests/rootless_ns.py PROGRAM [ARGS...]      (the caller must be real root: it writes the id maps)
"""

from __future__ import annotations

import ctypes
import os
import sys

CLONE_NEWUSER = 0x10000000
OUTSIDE = 100_000  # ids 0-65535 inside are 100000-165535 outside


def main() -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        os.close(go_w)
        if libc.unshare(CLONE_NEWUSER) != 0:
            os._exit(90)
        os.write(ready_w, b"x")
        os.read(go_r, 1)  # the parent has written the maps
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
        os.execv(sys.argv[1], sys.argv[1:])
    os.close(ready_w)
    os.close(go_r)
    if os.read(ready_r, 1) != b"x":
        os.waitpid(pid, 0)
        print("could not create a user namespace", file=sys.stderr)
        return 90
    for name in ("uid_map", "gid_map"):
        with open(f"/proc/{pid}/{name}", "w") as handle:
            handle.write(f"0 {OUTSIDE} 65536\n")
    os.write(go_w, b"x")
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
