"""How many cores this process may use: for the number of rebuild helpers.

In a container limited to two CPUs on a 64-core host, the CPU affinity still names all
64 cores; only the control group's quota tells. Helpers counted from the affinity would
be eight (their most) taking turns on two CPUs' worth of time (and ~220 MB each).
Both cgroup versions are read: v2's `cpu.max` ("200000 100000", or "max …") and v1's
`cpu.cfs_quota_us` / `cpu.cfs_period_us` (-1 for none), in the process's own group and
every group above it, whose limits apply too.
"""

import math
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

CGROUPS = Path("/sys/fs/cgroup")
MEMBERSHIP = Path("/proc/self/cgroup")


def usable_cores(cgroups: Path = CGROUPS, membership: Path = MEMBERSHIP) -> int:
    """The CPUs this process may run on, less where a cgroup quota allows fewer
    (rounded up: a quota of 1.5 CPUs keeps two cores busy part of the time)."""
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_quota(cgroups, membership)
    return max(1, cores if quota is None else min(cores, quota))


def cgroup_cpu_quota(cgroups: Path = CGROUPS, membership: Path = MEMBERSHIP) -> int | None:
    """The smallest CPU quota of the process's control groups, in whole CPUs; None when
    none is set or none can be read (not Linux, cgroups not mounted)."""
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        return None
    quotas = [q for group in _cpu_groups(cgroups, lines) if (q := _quota(group)) is not None]
    return min(quotas, default=None)


def _cpu_groups(cgroups: Path, lines: list[str]) -> Iterator[Path]:
    """The directories of the process's CPU control groups and all above them."""
    for line in lines:
        number, controllers, path = [*line.split(":", 2), "", ""][:3]
        if number == "0" and controllers == "":
            mount = cgroups  # v2, the unified hierarchy
        elif "cpu" in controllers.split(","):
            mount = cgroups / "cpu"  # v1: the cpu controller's own hierarchy
        else:
            continue
        group = PurePosixPath(path or "/")
        for level in (group, *group.parents):
            yield mount / level.relative_to("/")


def _quota(group: Path) -> int | None:
    try:
        if (v2 := group / "cpu.max").exists():
            limit, period = v2.read_text().split()[:2]
        elif (v1 := group / "cpu.cfs_quota_us").exists():
            limit, period = v1.read_text().strip(), (group / "cpu.cfs_period_us").read_text()
        else:
            return None
        if limit in ("max", "-1") or int(period) <= 0:
            return None
        return max(1, math.ceil(int(limit) / int(period)))
    except (OSError, ValueError):
        return None
