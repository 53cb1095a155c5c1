"""A grading kernel's cgroups: a process cap (`pids`) and a memory cap (`memory`), where this process may make them.

RLIMIT_DATA (set inside the sandbox) caps a process's heap and private mappings only: a shared anonymous mapping
(`mmap(MAP_SHARED | MAP_ANONYMOUS)`) or a tmpfs file is not counted by it. The memory controller counts every page
the sandbox's processes hold (private, shared, tmpfs, page cache), so it caps those too. Both controllers are
made under this process's own cgroup, with cgroup v1 (one hierarchy per controller) or v2 (one hierarchy where
the controllers are enabled). Where neither can be made (an unprivileged grader without a delegated cgroup), the
caps fall back to the rlimits and the grader says so.

Kernel docs: https://docs.kernel.org/admin-guide/cgroup-v2.html and Documentation/admin-guide/cgroup-v1/memory.rst
"""
from __future__ import annotations

import os
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path

# Runs outside the sandbox, as the grader: join each cgroup (if allowed), then exec the sandbox.
# argv: k procs_file_1 .. procs_file_k command...
JOIN_CGROUP = ("import os,sys\nk=int(sys.argv[1])\nfor f in sys.argv[2:2+k]:\n    try:\n"
               "        open(f,'w').write(str(os.getpid()))\n    except OSError:\n        pass\n"
               "os.execvp(sys.argv[2+k],sys.argv[2+k:])")
HEADROOM = 256 * 2**20  # page cache of the libraries the kernel reads (reclaimable), on top of memory + disk


@dataclass(frozen=True)
class Cgroups:
    """The cgroups one kernel's sandbox starts in: `groups` (one per v1 hierarchy, or one v2 group).

    Attributes:
        pids: the process cap is applied (pids.max).
        memory: the memory cap in bytes, or None where no memory cgroup could be made.
    """

    groups: tuple[Path, ...]
    pids: bool
    memory: int | None

    def join_command(self, argv: list[str], python: str) -> list[str]:
        """`argv` started inside these cgroups (a small Python prelude joins them, then execs it)."""
        return [python, "-c", JOIN_CGROUP, str(len(self.groups)), *(str(g / "cgroup.procs") for g in self.groups), *argv]

    def oom_kills(self) -> int:
        """How many processes the memory cap has killed so far (0 without a memory cgroup)."""
        for g in self.groups:
            for name in ("memory.events", "memory.oom_control"):  # v2, v1
                try:
                    lines = (g / name).read_text().splitlines()
                except OSError:
                    continue
                for line in lines:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        return 0

    def remove(self) -> None:
        """Kill what is left of the sandbox in these cgroups, then remove them."""
        for g in self.groups:
            remove_group(g)


def _mounts(mounts_file: str) -> list[tuple[Path, str, set[str]]]:
    """(mount point, 'cgroup' or 'cgroup2', options) of each cgroup file system."""
    out = []
    try:
        lines = Path(mounts_file).read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        fields = line.split()
        if len(fields) >= 4 and fields[2] in ("cgroup", "cgroup2"):
            out.append((Path(fields[1].replace("\\040", " ")), fields[2], set(fields[3].split(","))))
    return out


def cgroup_bases(cgroup_file: str = "/proc/self/cgroup", mounts_file: str = "/proc/self/mounts") -> dict[str, Path]:
    """Where this process's own cgroup is, per v1 controller ('pids', 'memory'), and its v2 group under 'v2'."""
    try:
        lines = Path(cgroup_file).read_text().splitlines()
    except OSError:
        return {}
    mounts = _mounts(mounts_file)
    bases: dict[str, Path] = {}
    for line in lines:
        _, controllers, rel = line.split(":", 2)
        names = set(controllers.split(",")) if controllers else set()
        for point, fstype, options in mounts:
            if controllers == "" and fstype == "cgroup2":
                bases.setdefault("v2", point / rel.lstrip("/"))
            elif fstype == "cgroup":
                for name in ("pids", "memory"):
                    if name in names and name in options:
                        bases.setdefault(name, point / rel.lstrip("/"))
    return bases


def _group(base: Path) -> Path | None:
    """A fresh child cgroup of `base`, or None where this process may not make one."""
    group = base / f"regviz-{secrets.token_hex(4)}"
    try:
        group.mkdir()
    except OSError:
        return None
    return group


def _limit(group: Path, name: str, value) -> bool:
    """Write a limit file of `group`; False where its controller is not enabled there (the file is missing)."""
    try:
        if not (group / name).exists():  # a cgroup file system has the files of its enabled controllers only
            return False
        (group / name).write_text(str(value))
        return True
    except OSError:
        return False


def kernel_cgroups(nproc: int, memory: int | None = None) -> Cgroups | None:
    """Cgroups capping a sandbox at `nproc` processes and threads and (if `memory`) at `memory` bytes of RAM.

    Returns None where neither cap can be made. The memory cap kills (OOM) a process of the sandbox that goes past it;
    there is no swap to escape to (swap is capped too where it is accounted).
    """
    bases = cgroup_bases()
    groups, pids, mem = [], False, None

    def keep(group: Path | None, ok: bool) -> bool:
        if group is not None and ok:
            groups.append(group)
            return True
        remove_group(group)
        return False

    if "v2" in bases and (g := _group(bases["v2"])) is not None:  # one group, both controllers where delegated
        pids = _limit(g, "pids.max", nproc)
        mem = memory if memory and _limit(g, "memory.max", memory) else None
        if mem:
            _limit(g, "memory.swap.max", 0)  # absent without swap accounting: nothing to escape to
        keep(g, pids or mem is not None)
    if not pids and "pids" in bases:  # v1: one hierarchy per controller
        g = _group(bases["pids"])
        pids = keep(g, g is not None and _limit(g, "pids.max", nproc))
    if memory and mem is None and "memory" in bases:
        g = _group(bases["memory"])
        if keep(g, g is not None and _limit(g, "memory.limit_in_bytes", memory)):
            _limit(g, "memory.memsw.limit_in_bytes", memory)  # absent without swap accounting: nothing to escape to
            mem = memory
    return Cgroups(tuple(groups), pids, mem) if groups else None


def sandbox_memory_cap(memory: int, disk: int) -> int:
    """The memory cgroup's cap for a sandbox: its data cap, plus its scratch tmpfs (RAM too) and library page cache."""
    return memory + disk + HEADROOM


def remove_group(group: Path | None) -> None:
    """Kill every process left in `group`, then remove it (retried for 5 s while the processes exit)."""
    for _ in range(50):
        if group is None or not group.exists():
            return
        try:
            for pid in (group / "cgroup.procs").read_text().split():
                os.kill(int(pid), signal.SIGKILL)
            group.rmdir()
            return
        except OSError:
            time.sleep(0.1)
