"""The operating-system layer of the sandbox: a bubblewrap command line and the resource limits around it.

    host (root or not)
      prlimit --as --cpu --fsize --nofile --core [--nproc]      per-process limits, inherited by everything below
        bwrap --unshare-pid/net/ipc/uts/cgroup --die-with-parent --new-session --clearenv
              read-only /usr and interpreter, private tmpfs, nothing else of the host
          setpriv --reuid UID ...  (host is root)               a real unprivileged uid: RLIMIT_NPROC applies,
          or bwrap --unshare-user --uid 65534 (host not root)   no capabilities, no new privileges
            the program

Why not `bwrap --unshare-user --uid 65534` as root: the uid inside maps back to root outside, and the kernel
does not enforce RLIMIT_NPROC for root. So a root host keeps the user namespace off and drops to a real
unprivileged uid with `setpriv` inside the mount/pid/net namespaces instead.

Why a fresh UID per run on a root host: RLIMIT_NPROC counts every process of a uid on the whole machine. With
one shared uid, a fork bomb in one run (stopped at its limit) would leave the other runs of the moment unable
to start a single process. Each run borrows a uid that no account, no subordinate-id range and no other run
holds, from `RUN_UIDS` (or, in a rootless container that maps 65536 ids, `SMALL_MAP_UIDS`), and gives it
back when it ends; its pid namespace dies with it.
"""

from __future__ import annotations

import grp
import os
import pwd
import random
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..._errors import UserError
from ._process import Outcome, run_process
from ._seccomp import filter_fd

INSTALL_BWRAP = "apt-get install bubblewrap"
SANDBOX_UID = 65534  # "nobody" inside a user namespace (host not root)
RUN_UIDS = range(1_900_000_000, 2_000_000_000)  # far above accounts and the usual subordinate-id ranges
# In a user namespace that maps only 65536 ids (a rootless container), the ids above the usual accounts.
SMALL_MAP_UIDS = range(10_000, 65_534)
_BORROWED: set[int] = set()
_BORROW_LOCK = threading.Lock()


def _id_map(path: str) -> list[range]:
    """The ids this process's user namespace maps (`inside outside count` lines); all of them if unreadable."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return [range(0, 2**32 - 1)]
    ranges = []
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            ranges.append(range(int(parts[0]), int(parts[0]) + int(parts[2])))
    return ranges


def _overlap(a: range, b: range) -> range:
    return range(max(a.start, b.start), min(a.stop, b.stop))


def run_uid_ranges() -> list[range]:
    """Where a run's uid may come from: `RUN_UIDS`, or `SMALL_MAP_UIDS`, as far as both uid and gid are mapped.

    setpriv cannot switch to an id the user namespace does not map (a rootless container maps 65536).
    """
    mapped = [_overlap(u, g) for u in _id_map("/proc/self/uid_map") for g in _id_map("/proc/self/gid_map")]
    for wanted in (RUN_UIDS, SMALL_MAP_UIDS):
        found = [r for r in (_overlap(m, wanted) for m in mapped) if r]
        if found:
            return found
    return []


def _subordinate_ranges() -> list[range]:
    """The uid/gid ranges /etc/subuid and /etc/subgid hand to containers (their processes hold those ids)."""
    ranges: list[range] = []
    for path in ("/etc/subuid", "/etc/subgid"):
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            parts = line.strip().split(":")
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                ranges.append(range(int(parts[1]), int(parts[1]) + int(parts[2])))
    return ranges


def _known_id(number: int) -> bool:
    try:
        pwd.getpwuid(number)
        return True
    except KeyError:
        pass
    try:
        grp.getgrgid(number)
        return True
    except KeyError:
        return False


@contextmanager
def borrowed_uid() -> Iterator[int]:
    """A uid (used as the gid too) that nothing else on the host holds, for the length of one run."""
    ranges, taken = run_uid_ranges(), _subordinate_ranges()
    if not ranges:
        raise SandboxUnavailable(
            "this user namespace maps no id the sandbox can run as (it needs one from "
            f"{SMALL_MAP_UIDS.start}-{SMALL_MAP_UIDS.stop - 1} or {RUN_UIDS.start}-{RUN_UIDS.stop - 1}); "
            "map more ids into the container, e.g. a full 65536-id range"
        )
    with _BORROW_LOCK:
        for _ in range(1000):
            uid = random.choice(random.choices(ranges, weights=[len(r) for r in ranges])[0])
            if uid not in _BORROWED and not any(uid in r for r in taken) and not _known_id(uid):
                _BORROWED.add(uid)
                break
        else:
            raise SandboxUnavailable("every id the sandbox may run as is taken by an account or by a run in "
                                     "progress; wait for runs to finish or map more ids")
    try:
        yield uid
    finally:
        with _BORROW_LOCK:
            _BORROWED.discard(uid)


class SandboxUnavailable(UserError):
    """The sandbox cannot be built on this machine (bubblewrap or util-linux missing, namespaces disabled)."""


def find_bwrap(explicit: str | None = None) -> str:
    """The bubblewrap binary, or a SandboxUnavailable saying how to install it."""
    found = shutil.which(explicit or "bwrap")
    if found is None:
        raise SandboxUnavailable(
            f"bubblewrap ({explicit or 'bwrap'}) is not installed, so code cannot be sandboxed; install it with "
            f"`{INSTALL_BWRAP}` (Debian/Ubuntu; `dnf install bubblewrap` on Fedora). A weaker mode without it "
            "exists only behind Sandbox(..., allow_unsandboxed_INSECURE=True)."
        )
    return found


def find_tool(name: str) -> str:
    found = shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")
    if found is None:
        raise SandboxUnavailable(f"`{name}` (util-linux) is needed to sandbox code; install it with "
                                 "`apt-get install util-linux`")
    return found


@dataclass(frozen=True)
class ResourceLimits:
    """Per-process limits, applied by `prlimit` before bubblewrap starts and inherited by the program."""

    cpu_s: int
    memory_bytes: int
    file_size_bytes: int
    open_files: int
    processes: int

    def prlimit_args(self, *, with_nproc: bool) -> list[str]:
        args = [
            f"--as={self.memory_bytes}",
            f"--cpu={self.cpu_s}:{self.cpu_s + 1}",  # soft: SIGXCPU; hard, a second later: SIGKILL
            f"--fsize={self.file_size_bytes}",
            f"--nofile={self.open_files}",
            "--core=0",
        ]
        if with_nproc:
            args.append(f"--nproc={self.processes}")
        return args


def _mount_args_for_system() -> list[str]:
    """Read-only /usr plus the merged-/usr symlinks (or read-only copies) of /bin, /lib, /lib64, /sbin."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def _covered(path: str, mounts: Sequence[str]) -> bool:
    return any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounts)


@dataclass
class Jail:
    """What the program sees: read-only binds, writable binds, private tmpfs mounts, environment, cwd."""

    bwrap: str
    ro_binds: list[tuple[str, str]] = field(default_factory=list)
    rw_binds: list[tuple[str, str]] = field(default_factory=list)
    tmpfs: list[tuple[str, int]] = field(default_factory=list)  # (path, size in bytes)
    env: dict[str, str] = field(default_factory=dict)
    chdir: str = "/tmp"
    proc: bool = False
    dev: bool = False
    host_is_root: bool = field(default_factory=lambda: os.geteuid() == 0)

    def add_ro(self, source: str | Path, dest: str | Path | None = None) -> None:
        real = os.path.realpath(source)
        target = str(dest) if dest is not None else real
        if dest is None and _covered(real, [d for _, d in self.ro_binds] + ["/usr"]):
            return
        self.ro_binds.append((real, target))

    def _ancestors(self) -> list[str]:
        """Directories bwrap would otherwise create 0700 (unreadable to the unprivileged uid)."""
        mounted = ["/usr", *(d for _, d in self.ro_binds), *(d for _, d in self.rw_binds), *(p for p, _ in self.tmpfs)]
        needed: set[str] = set()
        for dest in mounted:
            parent = Path(dest).parent
            while str(parent) != "/":
                if not any(str(parent) == m for m in mounted):
                    needed.add(str(parent))
                parent = parent.parent
        return sorted(needed, key=lambda p: (p.count("/"), p))

    def command(
        self, inner: Sequence[str], limits: ResourceLimits, *, seccomp_fd: int | None = None, uid: int | None = None,
    ) -> list[str]:
        """The full argv: prlimit -> bwrap -> (setpriv | prlimit --nproc) -> inner.

        `seccomp_fd`: a readable fd holding a compiled filter (see `_seccomp`); the caller passes it on.
        `uid`: the host uid to run as on a root host (see `borrowed_uid`); required there.
        """
        if self.host_is_root and uid is None:
            raise ValueError("a root host runs the program as a borrowed uid: pass uid= (see borrowed_uid)")
        prlimit = find_tool("prlimit")
        argv = [prlimit, *limits.prlimit_args(with_nproc=self.host_is_root), "--", self.bwrap]
        argv += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                 "--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv"]
        if not self.host_is_root:
            argv += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--disable-userns"]
        argv += _mount_args_for_system()
        # Parents before children: a private tmpfs on /tmp must not hide a bind below it (a project or virtualenv
        # living under /tmp, as in a CI checkout), so every mount is ordered by the depth of its destination.
        mounts: list[tuple[int, int, list[str]]] = []
        for directory in self._ancestors():
            mounts.append((directory.count("/"), len(mounts), ["--perms", "0755", "--dir", directory]))
        for source, dest in self.ro_binds:
            mounts.append((dest.rstrip("/").count("/"), len(mounts), ["--ro-bind", source, dest]))
        for source, dest in self.rw_binds:
            mounts.append((dest.rstrip("/").count("/"), len(mounts), ["--bind", source, dest]))
        for path, size in self.tmpfs:
            mounts.append((path.rstrip("/").count("/"), len(mounts),
                           ["--perms", "1777", "--size", str(size), "--tmpfs", path]))
        for _depth, _order, mount in sorted(mounts):
            argv += mount
        if self.proc:
            argv += ["--proc", "/proc"]
        if self.dev:
            argv += ["--dev", "/dev"]
        if seccomp_fd is not None:
            argv += ["--seccomp", str(seccomp_fd)]
        for key, value in sorted(self.env.items()):
            argv += ["--setenv", key, value]
        argv += ["--chdir", self.chdir, "--"]
        if self.host_is_root:
            argv += [find_tool("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                     "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
        else:
            argv += [prlimit, f"--nproc={limits.processes}", "--"]
        return argv + list(inner)

    def run(
        self, inner: Sequence[str], limits: ResourceLimits, *, stdin: Callable[[int], bytes], timeout_s: float,
        output_bytes: int, result_bytes: int = 1 << 20,
    ) -> Outcome:
        """Run `inner` in this jail under `limits`, with the seccomp filter, the wall clock and the output cap."""
        seccomp = filter_fd()
        try:
            with borrowed_uid() as uid:
                argv = self.command(inner, limits, seccomp_fd=seccomp, uid=uid if self.host_is_root else None)
                return run_process(argv, stdin=stdin, timeout_s=timeout_s, output_bytes=output_bytes, cwd="/",
                                   env={}, result_bytes=result_bytes, pass_fds=() if seccomp is None else (seccomp,))
        finally:
            if seccomp is not None:
                os.close(seccomp)
