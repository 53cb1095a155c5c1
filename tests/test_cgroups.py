"""The kernel cgroups: the memory cap counts shared mappings, which RLIMIT_DATA does not; finding the hierarchies."""
import subprocess
import sys

import pytest

from regviz.homework.cgroups import cgroup_bases, kernel_cgroups

# Maps n bytes MAP_SHARED | MAP_ANONYMOUS and writes every page (64 MiB at a time), then says so.
SHARED_TOUCH = ("import mmap,sys\nn=int(sys.argv[1])\nm=mmap.mmap(-1,n,flags=mmap.MAP_SHARED)\n"
                "for i in range(0,n,2**26): m[i:i+2**26]=b'\\1'*min(2**26,n-i)\nprint('touched',n)")
CAP = 300 * 2**20


@pytest.fixture
def memory_group():
    groups = kernel_cgroups(64, CAP)
    if groups is None or groups.memory is None:
        if groups is not None:
            groups.remove()
        pytest.skip("no writable memory cgroup here: the grader falls back to RLIMIT_DATA and says so")
    yield groups
    groups.remove()


def test_shared_mapping_escapes_rlimit_data():
    """Why the cgroup is needed: under RLIMIT_DATA = 300 MiB a 1 GiB shared mapping is written in full,
    while a 1 GiB private allocation fails."""
    limit = f"import resource as r;r.setrlimit(r.RLIMIT_DATA,({CAP},{CAP}))\n"
    shared = subprocess.run([sys.executable, "-c", limit + SHARED_TOUCH, str(2**30)], capture_output=True, text=True)
    assert shared.returncode == 0 and f"touched {2**30}" in shared.stdout, shared
    private = subprocess.run([sys.executable, "-c", limit + "bytearray(2**30)"], capture_output=True, text=True)
    assert private.returncode == 1 and "MemoryError" in private.stderr, private


def test_memory_cap_kills_a_shared_mapping(memory_group):
    """Inside the memory cgroup (cap 300 MiB) writing a 1 GiB shared mapping is killed (SIGKILL, one OOM kill
    counted); 64 MiB runs to the end."""
    small = subprocess.run(memory_group.join_command([sys.executable, "-c", SHARED_TOUCH, str(64 * 2**20)],
                                                     sys.executable), capture_output=True, text=True)
    assert small.returncode == 0 and memory_group.oom_kills() == 0, small
    big = subprocess.run(memory_group.join_command([sys.executable, "-c", SHARED_TOUCH, str(2**30)], sys.executable),
                         capture_output=True, text=True)
    assert big.returncode == -9 and "touched" not in big.stdout, big
    assert memory_group.oom_kills() == 1


def test_remove_kills_what_is_left(memory_group):
    """remove() kills a process still in the cgroups and removes every group."""
    proc = subprocess.Popen(memory_group.join_command([sys.executable, "-c", "import time; time.sleep(60)"],
                                                      sys.executable))
    for g in memory_group.groups:  # wait until it has joined
        for _ in range(100):
            if str(proc.pid) in (g / "cgroup.procs").read_text().split():
                break
            subprocess.run(["sleep", "0.05"])
    memory_group.remove()
    assert proc.wait(timeout=10) == -9
    assert not any(g.exists() for g in memory_group.groups)


@pytest.mark.parametrize("layout, expected", [
    ("v1", {"pids": "/sys/fs/cgroup/pids/job", "memory": "/sys/fs/cgroup/memory/job/a b",
            "v2": "/sys/fs/cgroup/unified"}),
    ("v2", {"v2": "/sys/fs/cgroup/user.slice/grader.scope"}),
])
def test_cgroup_bases(tmp_path, layout, expected):
    """v1 hierarchies are found through their mount options (not assumed at /sys/fs/cgroup/<name>), v2 through
    its cgroup2 mount; paths are the process's own group under each."""
    if layout == "v1":
        cgroup = "8:pids:/job\n4:memory:/job/a b\n3:cpu,cpuacct:/job\n0::/\n"
        mounts = ("tmpfs /sys/fs/cgroup tmpfs rw 0 0\ncgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0\n"
                  "cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n"
                  "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0\n"
                  "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0\n")
    else:
        cgroup = "0::/user.slice/grader.scope\n"
        mounts = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev 0 0\nproc /proc proc rw 0 0\n"
    (tmp_path / "cgroup").write_text(cgroup)
    (tmp_path / "mounts").write_text(mounts)
    bases = cgroup_bases(str(tmp_path / "cgroup"), str(tmp_path / "mounts"))
    assert {k: str(v) for k, v in bases.items()} == expected
    assert cgroup_bases(str(tmp_path / "missing"), str(tmp_path / "mounts")) == {}

