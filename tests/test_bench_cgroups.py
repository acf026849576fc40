"""``bench/cgroups.py``: a process started through a group runs inside it under its quota, its
CPU is accounted, and every group is gone after the run (also one a killed run left behind).
Needs writable cgroup v1 ``cpu`` and ``cpuacct`` hierarchies (root); skipped elsewhere, where
the benchmarks run uncapped and say so."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.cgroups import PREFIX, ROOT, CpuGroups

pytestmark = pytest.mark.skipif(
    not CpuGroups().capped or not CpuGroups().accounted,
    reason="cgroup v1 cpu/cpuacct not writable here (the benchmarks then run uncapped)",
)


def leftovers() -> list[str]:
    return sorted(
        p.name for c in ("cpu", "cpuacct") for p in (ROOT / c).glob(f"{PREFIX}{os.getpid()}-*")
    )


def test_a_process_started_in_a_group_runs_under_its_quota_and_is_accounted():
    with CpuGroups.open() as groups:
        group = groups.group("edge-1", quota=0.25)
        assert (ROOT / "cpu" / f"{groups.tag}edge-1" / "cpu.cfs_quota_us").read_text() == "25000\n"
        spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.05: pass"
        done = subprocess.run(
            group.wrap([sys.executable, "-c", f"{spin}\nprint(open('/proc/self/cgroup').read())"]),
            capture_output=True,
            text=True,
            check=True,
        )
        assert f"cpu:/{groups.tag}edge-1" in done.stdout
        assert f"cpuacct:/{groups.tag}edge-1" in done.stdout
        assert group.usage_seconds() >= 0.05  # its CPU stays counted after it exited
        assert leftovers()
    assert leftovers() == []


def test_an_uncapped_group_and_turning_quotas_off_still_account_cpu():
    with CpuGroups.open() as groups:
        accounting = groups.group("postgres")
        assert accounting.quota is None
        assert [d.parent.name for d in accounting.dirs] == ["cpuacct"]
    with CpuGroups.open(enabled=False) as off:
        assert not off.capped and "UNCAPPED" in off.note
        edge = off.group("edge", quota=0.4)
        assert edge.quota is None and [d.parent.name for d in edge.dirs] == ["cpuacct"]


def test_groups_of_a_run_that_was_killed_are_removed_on_the_next_start():
    dead = ROOT / "cpu" / f"{PREFIX}999999999-edge"  # a pid that cannot be running
    dead.mkdir()
    try:
        with CpuGroups.open():
            assert not dead.exists()
    finally:
        if dead.exists():
            dead.rmdir()
