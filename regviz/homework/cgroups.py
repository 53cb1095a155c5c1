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


def _make(base: Path, limits: dict[str, str]) -> Path | None:
    """A fresh child of `base` with each of `limits` written (file -> value), or None (removed again) if any fails."""
    group = base / f"regviz-{secrets.token_hex(4)}"
    try:
        group.mkdir()
    except OSError:
        return None
    try:
        for name, value in limits.items():
            if not (group / name).exists():  # a cgroup file system has every file of its enabled controllers
                raise OSError(f"{name} missing")
            (group / name).write_text(value)
        return group
    except OSError:
        remove_group(group)
        return None


def kernel_cgroups(nproc: int, memory: int | None = None) -> Cgroups | None:
    """Cgroups capping a sandbox at `nproc` processes and threads and (if `memory`) at `memory` bytes of RAM.

    Returns None where neither cap can be made. The memory cap kills (OOM) a process of the sandbox that goes past it;
    there is no swap to escape to (memsw is capped too where it exists).
    """
    bases = cgroup_bases()
    groups, pids, mem = [], False, None
    if "v2" in bases:
        limits = {"pids.max": str(nproc)}
        if memory:
            limits |= {"memory.max": str(memory), "memory.swap.max": "0"}
        for attempt in (limits, {"pids.max": str(nproc)}, {"memory.max": str(memory)} if memory else None):
            group = _make(bases["v2"], attempt) if attempt else None
            if group is not None:
                groups.append(group)
                pids, mem = "pids.max" in attempt, memory if "memory.max" in attempt else None
                break
    if not groups and "pids" in bases:
        group = _make(bases["pids"], {"pids.max": str(nproc)})
        if group is not None:
            groups.append(group)
            pids = True
    if mem is None and memory and "memory" in bases:
        group = _make(bases["memory"], {"memory.limit_in_bytes": str(memory)})
        if group is not None:
            try:
                (group / "memory.memsw.limit_in_bytes").write_text(str(memory))
            except OSError:
                pass  # no swap accounting: nothing to escape to either
            groups.append(group)
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
