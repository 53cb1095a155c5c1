"""Sandboxes for grading kernels: bubblewrap (default on Linux), docker, podman, or none.

Each submission's kernel sees its scratch folder (its notebook's working copy and the chapter's data
files), the Python environment read-only, and nothing else; no network. Under bubblewrap the scratch folder
is a size-capped tmpfs (the total written is bounded, not only each file) filled from a read-only copy before
the kernel starts, and the kernel's sockets live in a folder of their own. Resource limits are set with
setrlimit inside the sandbox. bubblewrap: https://github.com/containers/bubblewrap
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .cgroups import Cgroups

KINDS = ("bwrap", "docker", "podman", "none")
DEFAULT_IMAGE = "regviz-grader"
INSTALL_HINT = ("no sandbox found: install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) "
                "or pass --sandbox none to grade without isolation")

# Runs inside the sandbox before the kernel: copy the staged scratch files (a read-only folder, or '-') into the
# working folder, then data-segment (heap + anonymous mappings), process, CPU-time and file-size limits, a lower
# priority, then exec the kernel. argv: memory_bytes nproc cpu_seconds file_bytes stage kernel_argv...
LIMITS_SNIPPET = (
    "import os,resource as r,shutil,sys;"
    "m,p,c,f=map(int,sys.argv[1:5]);s=sys.argv[5];"
    "s=='-' or shutil.copytree(s,os.getcwd(),dirs_exist_ok=True);"
    "r.setrlimit(r.RLIMIT_DATA,(m,m));r.setrlimit(r.RLIMIT_NPROC,(p,p));r.setrlimit(r.RLIMIT_CPU,(c,c+5));"
    "r.setrlimit(r.RLIMIT_FSIZE,(f,f));r.setrlimit(r.RLIMIT_CORE,(0,0));os.nice(5);"
    "os.execvp(sys.argv[6],sys.argv[6:])"
)
STAGE = "/regviz-stage"  # inside bwrap: the host's scratch folder, read-only, copied into the tmpfs at start


@dataclass(frozen=True)
class Sandbox:
    """How grading kernels are isolated and limited.

    Attributes:
        kind: 'bwrap', 'docker', 'podman' or 'none'.
        memory: cap on each kernel's data segment (RLIMIT_DATA: heap and private mappings) in bytes (default 4 GB);
            where a memory cgroup can be made (see cgroups.py), everything the sandbox holds in RAM (shared mappings
            and its scratch tmpfs included) is capped at memory + disk + 256 MiB as well.
        nproc: process/thread cap (a pids cgroup where one can be made, and RLIMIT_NPROC, which Linux
            does not apply to root).
        cpu_seconds: CPU-time cap per kernel (RLIMIT_CPU); None: set by the grader from the total timeout.
        image: container image for docker/podman.
        disk: bytes the kernel may write in all (bwrap: the size of its scratch tmpfs, which lives in memory;
            every kind: the largest single file, RLIMIT_FSIZE).
    """

    kind: str = "bwrap"
    memory: int = 4 * 10**9
    nproc: int = 512
    cpu_seconds: int | None = None
    image: str = DEFAULT_IMAGE
    disk: int = 512 * 10**6

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown sandbox {self.kind!r}; allowed: {', '.join(KINDS)}")
        if not (isinstance(self.memory, int) and self.memory >= 256 * 2**20):
            raise ValueError(f"memory={self.memory!r} bytes; allowed: at least 256 MB (e.g. --memory 4G)")
        if self.nproc < 16:
            raise ValueError(f"nproc={self.nproc}; allowed: at least 16")
        if not (isinstance(self.disk, int) and self.disk >= 16 * 2**20):
            raise ValueError(f"disk={self.disk!r} bytes; allowed: at least 16 MB (e.g. --disk 512M)")


def parse_memory(text: str, *, minimum: int = 256 * 2**20, what: str = "memory") -> int:
    """'4G', '512M', '4000000000' -> bytes (G/M/K are powers of 1000 on disk, 1024 with 'i': '4Gi').

    Raises:
        ValueError: not a positive size of at least ``minimum`` bytes (default 256 MB).
    """
    s = str(text).strip()
    units = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40}
    num = s.rstrip("kKmMgGtTiIbB")
    unit = s[len(num):].upper().removesuffix("B")
    try:
        value = int(float(num) * units[unit])
    except (ValueError, KeyError):
        raise ValueError(f"{what} {text!r}; allowed: a size such as 4G, 512M or 4000000000") from None
    if value < minimum:
        raise ValueError(f"{what} {text!r}; allowed: at least {minimum:,} bytes")
    return value


def bwrap_works() -> bool:
    """True if `bwrap` is installed and can create the namespaces the grader uses."""
    if shutil.which("bwrap") is None:
        return False
    try:
        run = subprocess.run(["bwrap", "--unshare-all", "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
                              "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return run.returncode == 0


def container_works(kind: str) -> bool:
    """True if the docker/podman client is installed and its daemon/service answers."""
    if shutil.which(kind) is None:
        return False
    try:
        return subprocess.run([kind, "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def choose(kind: str | None) -> str:
    """The sandbox kind to use: `kind` if given and usable, else bwrap when it works.

    Raises:
        ValueError: unknown kind, or the requested/default sandbox is not available (the message says how to fix it).
    """
    if kind is None:
        if not sys.platform.startswith("linux"):
            raise ValueError("no sandbox found: bubblewrap needs Linux; pass --sandbox docker or --sandbox podman "
                             "(image: regviz/homework/Dockerfile), or --sandbox none to grade without isolation")
        if bwrap_works():
            return "bwrap"
        raise ValueError(INSTALL_HINT)
    if kind not in KINDS:
        raise ValueError(f"unknown sandbox {kind!r}; allowed: {', '.join(KINDS)}")
    if kind == "bwrap" and not bwrap_works():
        raise ValueError("--sandbox bwrap: bubblewrap is missing or cannot create namespaces here; "
                         "install it (apt-get install bubblewrap) or choose --sandbox docker/podman/none")
    if kind in ("docker", "podman") and not container_works(kind):
        raise ValueError(f"--sandbox {kind}: '{kind} info' fails (client missing or daemon not running); "
                         f"build the image with: {kind} build -t {DEFAULT_IMAGE} -f regviz/homework/Dockerfile .")
    return kind


def environment_paths() -> list[Path]:
    """Read-only paths the kernel needs: the interpreter's prefixes and the regviz package source."""
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(__file__).resolve().parents[1]}
    exe = Path(sys.executable).resolve()
    if not any(exe.is_relative_to(p.resolve()) for p in paths):
        paths.add(exe.parent.parent)
    return sorted({p.resolve() for p in paths if p.exists()})


def _under(path: Path, roots: list[Path]) -> bool:
    return any(path == r or path.is_relative_to(r) for r in roots)


SANDBOX_UID = 65534  # nobody


def bwrap_command(kernel_argv: list[str], scratch: Path, *, hide: list[Path] = (), env: dict[str, str] | None = None,
                  extra_ro: list[Path] = (), ipc: Path | None = None, disk: int | None = None) -> list[str]:
    """bubblewrap argv that runs `kernel_argv` with only `scratch` (and the socket folder `ipc`) writable.

    Args:
        kernel_argv: the (already limited) kernel command.
        scratch: the submission's working folder (kernel cwd): mounted read-write at the same path, or with
            `disk`, a tmpfs of that many bytes at the same path, the host folder read-only at STAGE (the
            kernel command copies it in: see LIMITS_SNIPPET).
        ipc: the folder of the kernel's connection file (mounted read-only) and sockets (read-write).
        disk: size cap of the scratch tmpfs in bytes; None: bind the host folder (no total cap).
        hide: folders that must stay invisible (reference notebooks, submissions, grades); each one that
            lies inside a mounted path is covered with an empty tmpfs.
        env: the kernel's whole environment (the grader's own is not passed in).
        extra_ro: more read-only paths (e.g. the dataset cache).
    Returns:
        The command line.
    """
    ro = environment_paths() + [Path(p).resolve() for p in extra_ro if Path(p).exists()]
    # bwrap itself starts with an empty environment: it is PID 1 inside, and its /proc/1/environ is readable there
    # (--clearenv only empties its child's); the kernel runs as nobody (65534), not as root, inside.
    argv = ["env", "-i", shutil.which("bwrap") or "/usr/bin/bwrap", "--unshare-all", "--unshare-user",
            "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--cap-drop", "ALL", "--die-with-parent",
            "--new-session", "--hostname", "grader", "--ro-bind", "/usr", "/usr", "--ro-bind-try", "/etc", "/etc"]
    for name in ("bin", "lib", "lib32", "lib64", "sbin"):
        link = Path("/") / name
        if link.is_symlink():
            argv += ["--symlink", str(link.readlink()), str(link)]
        elif link.is_dir():
            argv += ["--ro-bind", str(link), str(link)]
    argv += ["--proc", "/proc", "--dev", "/dev", "--size", str(16 * 2**20), "--tmpfs", "/tmp",
             "--size", str(16 * 2**20), "--tmpfs", "/dev/shm"]  # small: shared memory is not counted by RLIMIT_DATA
    for secret in ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-"):
        # the user namespace maps the sandbox's uid to the grader's: as root, root-owned files would be readable
        if os.path.lexists(secret):
            argv += ["--ro-bind", "/dev/null", secret]
    for p in ro:
        if not _under(p, [Path("/usr"), Path("/etc")]):
            argv += ["--ro-bind", str(p), str(p)]
    for h in hide:
        h = Path(h).resolve()
        if h.is_dir() and _under(h, ro + [Path("/usr"), Path("/etc")]):
            argv += ["--tmpfs", str(h)]
    if disk is None:
        argv += ["--bind", str(scratch), str(scratch)]
    else:  # the total written is capped: writing past it fails with ENOSPC inside, the host disk never fills
        argv += ["--ro-bind", str(scratch), STAGE, "--size", str(disk), "--tmpfs", str(scratch)]
    if ipc is not None:
        argv += ["--bind", str(ipc), str(ipc)]
        for f in Path(ipc).iterdir():  # the connection file: the kernel reads it, never rewrites it
            if f.is_file():
                argv += ["--ro-bind", str(f), str(f)]
    argv += ["--chdir", str(scratch), "--clearenv"]
    for k, v in (env or {}).items():
        argv += ["--setenv", k, v]
    return argv + ["--"] + list(kernel_argv)


def container_command(kind: str, kernel_argv: list[str], scratch: Path, *, image: str, memory: int, nproc: int,
                      env: dict[str, str] | None = None, extra_ro: list[Path] = (), ipc: Path | None = None) -> list[str]:
    """docker/podman argv: no network, read-only image, `scratch` mounted read-write at the same path (the
    kernel's sockets live there), `extra_ro` read-only, capped memory and pids, the grader's own uid."""
    argv = [kind, "run", "--rm", "--init", "--network", "none", "--read-only", "--tmpfs", "/tmp:size=16m",
            "--memory", str(memory), "--pids-limit", str(nproc), "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--user", f"{os.getuid()}:{os.getgid()}", "-v", f"{scratch}:{scratch}", "-w", str(scratch)]
    if ipc is not None:
        argv += ["-v", f"{ipc}:{ipc}"]
    for p in extra_ro:
        if Path(p).exists():
            argv += ["-v", f"{Path(p).resolve()}:{Path(p).resolve()}:ro"]
    for k, v in (env or {}).items():
        if k != "PATH":  # the image has its own
            argv += ["-e", f"{k}={v}"]
    return argv + [image] + list(kernel_argv)


def kernel_command(box: Sandbox, kernel_argv: list[str], scratch: Path, *, hide: list[Path] = (),
                   env: dict[str, str] | None = None, extra_ro: list[Path] = (), cpu_seconds: int = 3600,
                   cgroups: Cgroups | None = None, ipc: Path | None = None) -> list[str]:
    """The full command that starts one grading kernel inside `box` with its limits.

    `kernel_argv` is a Jupyter kernel command (with `{connection_file}`); the limits are applied by a
    small Python prelude that execs it. With `cgroups` (see cgroups.kernel_cgroups), the sandbox starts inside them.
    `ipc`: the folder holding the connection file and sockets, when it is not `scratch`.
    """
    cpu = box.cpu_seconds or cpu_seconds
    limits = [str(box.memory), str(box.nproc), str(cpu), str(box.disk)]
    if cgroups is not None and box.kind in ("bwrap", "none"):
        rest = kernel_command(box, kernel_argv, scratch, hide=hide, env=env, extra_ro=extra_ro, cpu_seconds=cpu_seconds,
                              ipc=ipc)
        return cgroups.join_command(rest, sys.executable)
    if box.kind in ("docker", "podman"):  # the image's own python; limits come from the container flags
        inner = ["python", "-c", LIMITS_SNIPPET, *limits, "-", "python", *kernel_argv[1:]]
        return container_command(box.kind, inner, scratch, image=box.image, memory=box.memory, nproc=box.nproc, env=env,
                                 extra_ro=extra_ro, ipc=ipc)
    if box.kind == "none":
        return [sys.executable, "-c", LIMITS_SNIPPET, *limits, "-", *kernel_argv]
    inner = [sys.executable, "-c", LIMITS_SNIPPET, *limits, STAGE, *kernel_argv]
    return bwrap_command(inner, scratch, hide=hide, env=env, extra_ro=extra_ro, ipc=ipc, disk=box.disk)
