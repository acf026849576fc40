"""CPU quotas and CPU accounting per process, with cgroup v1's ``cpu`` and ``cpuacct``
controllers, for the benchmarks that compare one hub process with several.

On a machine with fewer cores than processes, a second hub process has no core of its own: it
shares the cores the first already fills, and "two edges / one edge" measures the machine, not
the hub. Giving every hub process the same CPU quota (``cpu.cfs_quota_us`` over
``cpu.cfs_period_us``) makes each one a fixed-size slice of a core, whatever the machine has:
N processes then have N slices, and their throughput against one process with one slice shows
whether the hub scales (PostgreSQL and the load generator run outside the quotas, on the rest).

    with CpuGroups.open() as groups:                   # None-safe: groups.capped says if quotas work
        edge = groups.group("edge-1", quota=0.4)       # 0.4 of a core
        proc = subprocess.Popen(edge.wrap(["hub", "serve", ...]))   # in the group from its first
        edge.usage_seconds()                           # CPU the group used (cpuacct.usage)

Groups are made under ``/sys/fs/cgroup/{cpu,cpuacct}/hub-bench-<pid>-<name>`` and removed when
the context ends, whatever happened (their processes are moved back to the root group first);
groups a killed benchmark left behind (its pid gone) are removed on the next start. Where the
controllers are not mounted or not writable (not root, cgroup v2 only, a container) the
benchmark runs uncapped and says so: :attr:`CpuGroups.note`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PREFIX = "hub-bench-"
PERIOD_US = 100_000


def _writable(controller: str) -> str | None:
    """Why ``controller`` (a cgroup v1 hierarchy) cannot be used, or None when it can."""
    base = ROOT / controller
    if not (base / "cgroup.procs").exists():
        return f"{base} is not a cgroup v1 hierarchy"
    if not os.access(base, os.W_OK):
        return f"{base} is not writable (run as root)"
    return None


@dataclass
class CpuGroup:
    """One process's group: a CPU quota (``None``: uncapped) and its CPU accounting.

    Without a writable ``cpuacct`` the CPU is read from ``/proc`` for the processes adopted
    and their children alive at the time (backends that exited meanwhile are missed)."""

    name: str
    quota: float | None
    dirs: tuple[Path, ...]  # the group in each controller: cpu (when capped), cpuacct
    adopted: list[int] = field(default_factory=list)

    @property
    def _acct(self) -> Path | None:
        return next((d for d in self.dirs if d.parent.name == "cpuacct"), None)

    @property
    def _cpu(self) -> Path | None:
        return next((d for d in self.dirs if d.parent.name == "cpu"), None)

    def wrap(self, command: Sequence[str]) -> list[str]:
        """``command`` started inside the group: a shell moves itself in, then ``exec``s it,
        so every thread and child the process ever has is counted and capped."""
        if not self.dirs:
            return list(command)
        moves = " && ".join(f"echo $$ > {shlex.quote(str(d / 'cgroup.procs'))}" for d in self.dirs)
        return ["sh", "-c", f'{moves} && exec "$@"', "sh", *command]

    def adopt(self, pids: Sequence[int]) -> None:
        """Move running processes in (PostgreSQL: the postmaster, then the backends it forks
        later inherit the group)."""
        self.adopted.extend(p for p in pids if p not in self.adopted)
        for directory in self.dirs:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, OSError):
                    (directory / "cgroup.procs").write_text(f"{pid}\n")

    def usage_seconds(self) -> float:
        """CPU seconds the group's processes used since it was made (those gone included)."""
        acct = self._acct
        if acct is None:
            return _proc_cpu_seconds(self.adopted)
        return int((acct / "cpuacct.usage").read_text()) / 1e9

    def throttled(self) -> tuple[int, float]:
        """(periods the quota stopped the group, seconds it waited): the quota was the limit."""
        cpu = self._cpu
        if cpu is None:
            return 0, 0.0
        stat = dict(line.split() for line in (cpu / "cpu.stat").read_text().splitlines())
        return int(stat.get("nr_throttled", 0)), int(stat.get("throttled_time", 0)) / 1e9


class CpuGroups:
    """The groups of one benchmark run; ``capped`` False: no quota could be set (see ``note``)."""

    def __init__(self, *, enabled: bool = True):
        """``enabled=False``: no quotas (CPU is still accounted where cpuacct is writable)."""
        self.tag = f"{PREFIX}{os.getpid()}-"
        self.made: list[Path] = []
        cpu_reason = _writable("cpu") if enabled else "turned off (--no-cgroups)"
        acct_reason = _writable("cpuacct")
        self.capped = cpu_reason is None
        self.accounted = acct_reason is None
        self.note = (
            f"each hub process capped with cgroup v1 cpu quotas (period {PERIOD_US} us)"
            if self.capped
            else f"UNCAPPED: no CPU quotas ({cpu_reason}); the processes share the machine's "
            f"{os.cpu_count()} CPUs, so several processes measure the machine, not the hub"
        )

    @classmethod
    @contextlib.contextmanager
    def open(cls, *, enabled: bool = True) -> Iterator[CpuGroups]:
        groups = cls(enabled=enabled)
        groups.remove_stale()
        try:
            yield groups
        finally:
            groups.remove_all()

    def group(self, name: str, quota: float | None = None) -> CpuGroup:
        """A new group; ``quota`` in CPUs (0.4 = 40 ms of every 100 ms), None = uncapped."""
        dirs: list[Path] = []
        if self.capped and quota is not None:
            dirs.append(self._make("cpu", name))
            (dirs[-1] / "cpu.cfs_period_us").write_text(f"{PERIOD_US}\n")
            (dirs[-1] / "cpu.cfs_quota_us").write_text(f"{int(quota * PERIOD_US)}\n")
        if self.accounted:
            dirs.append(self._make("cpuacct", name))
        return CpuGroup(name, quota if self.capped else None, tuple(dirs))

    def _make(self, controller: str, name: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        path = ROOT / controller / f"{self.tag}{safe}"
        if path.exists():  # a name used twice in one run: its old group goes first
            _remove(path)
        path.mkdir()
        self.made.append(path)
        return path

    def drop(self, group: CpuGroup) -> None:
        """Remove one group now (its run is over and its figures read)."""
        for path in group.dirs:
            _remove(path)
            if path in self.made:
                self.made.remove(path)

    def remove_all(self) -> None:
        for path in reversed(self.made):
            _remove(path)
        self.made.clear()

    def remove_stale(self) -> None:
        """Groups of earlier runs whose benchmark process is gone (killed: no clean-up ran)."""
        for controller in ("cpu", "cpuacct"):
            base = ROOT / controller
            if not base.is_dir() or not os.access(base, os.W_OK):
                continue
            for path in base.glob(PREFIX + "*"):
                found = re.match(re.escape(PREFIX) + r"(\d+)-", path.name)
                if found and not Path(f"/proc/{found.group(1)}").exists():
                    _remove(path)


def _proc_cpu_seconds(roots: Sequence[int]) -> float:
    """utime + stime of ``roots`` and their descendants alive now, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    ticks, todo, seen = 0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo += children.get(pid, [])
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _remove(path: Path) -> None:
    """Move whatever still runs in the group back to the root group, then remove it."""
    root_procs = path.parent / "cgroup.procs"
    with contextlib.suppress(OSError):
        for pid in (path / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):
                root_procs.write_text(f"{pid}\n")
    with contextlib.suppress(OSError):
        path.rmdir()
