"""How many cores rebuild helpers count on: the CPU affinity, less a cgroup's quota."""

import os
from pathlib import Path

from projections.cores import cgroup_cpu_quota, usable_cores

AFFINITY = len(os.sched_getaffinity(0))


def machine(tmp_path: Path, membership: str, files: dict[str, str]) -> tuple[Path, Path]:
    """A cgroup file system and a /proc/self/cgroup of our own making."""
    cgroups = tmp_path / "cgroup"
    for name, text in files.items():
        (cgroups / name).parent.mkdir(parents=True, exist_ok=True)
        (cgroups / name).write_text(text)
    cgroups.mkdir(exist_ok=True)
    own = tmp_path / "self-cgroup"
    own.write_text(membership)
    return cgroups, own


def test_a_container_quota_of_one_and_a_half_cpus_counts_as_two_cores(tmp_path):
    cgroups, own = machine(tmp_path, "0::/school/dossier\n", {
        "school/dossier/cpu.max": "150000 100000\n",
    })  # fmt: skip
    assert cgroup_cpu_quota(cgroups, own) == 2
    assert usable_cores(cgroups, own) == min(AFFINITY, 2)


def test_the_quota_of_a_group_above_the_process_counts_too(tmp_path):
    cgroups, own = machine(tmp_path, "0::/school/dossier\n", {
        "school/dossier/cpu.max": "max 100000\n",
        "school/cpu.max": "100000 100000\n",
    })  # fmt: skip
    assert cgroup_cpu_quota(cgroups, own) == 1
    assert usable_cores(cgroups, own) == 1


def test_a_cgroup_v1_quota_is_read_from_the_cpu_hierarchy(tmp_path):
    cgroups, own = machine(tmp_path, "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n", {
        "cpu/docker/abc/cpu.cfs_quota_us": "300000\n",
        "cpu/docker/abc/cpu.cfs_period_us": "100000\n",
        "cpu/cpu.cfs_quota_us": "-1\n",
        "cpu/cpu.cfs_period_us": "100000\n",
    })  # fmt: skip
    assert cgroup_cpu_quota(cgroups, own) == 3


def test_without_a_quota_every_core_of_the_affinity_counts(tmp_path):
    cgroups, own = machine(tmp_path, "0::/\n1:cpu:/\n", {
        "cpu.max": "max 100000\n",
        "cpu/cpu.cfs_quota_us": "-1\n",
        "cpu/cpu.cfs_period_us": "100000\n",
    })  # fmt: skip
    assert cgroup_cpu_quota(cgroups, own) is None
    assert usable_cores(cgroups, own) == AFFINITY


def test_unreadable_or_garbled_cgroup_files_leave_the_affinity(tmp_path):
    cgroups, own = machine(tmp_path, "0::/a\n", {"a/cpu.max": "lots\n"})
    assert usable_cores(cgroups, own) == AFFINITY
    assert usable_cores(cgroups, tmp_path / "missing") == AFFINITY
