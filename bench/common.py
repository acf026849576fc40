"""What the benchmarks share: result rows and the one table, subprocess servers, wrk, memory.

Every benchmark script has ``main(argv=None) -> list[Row]``: it prints its own figures as it
goes, then its headline ratio LAST, and returns its rows; ``bench/run`` gathers the rows of
every script into one table. Scripts that are run as a subprocess (``bench/run`` does that, so
one benchmark's threads and memory never colour the next) also print each row as a
``BENCH-ROW {json}`` line, which is how ``bench/run`` reads them back.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.emulators.serve import free_port, wait_until  # noqa: E402

ROW_PREFIX = "BENCH-ROW "


@dataclass
class Row:
    """One measured figure: what, how much, the goal, and whether the goal is met."""

    bench: str
    measure: str
    value: str
    goal: str = ""
    met: bool | None = None  # None: a figure without a goal (context for the others)

    def emit(self) -> None:
        print(ROW_PREFIX + json.dumps(asdict(self)), flush=True)


def parse_rows(output: str) -> list[Row]:
    return [
        Row(**json.loads(line[len(ROW_PREFIX) :]))
        for line in output.splitlines()
        if line.startswith(ROW_PREFIX)
    ]


def print_table(rows: Sequence[Row], *, file=None) -> None:
    headers = ("bench", "measure", "value", "goal", "met")
    cells = [
        (r.bench, r.measure, r.value, r.goal, {True: "yes", False: "NO", None: ""}[r.met])
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line, file=file)
    print("  ".join("-" * w for w in widths), file=file)
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)), file=file)


def emit_all(rows: Sequence[Row]) -> None:
    for row in rows:
        row.emit()


def run_as_script(main) -> None:
    """``if __name__ == "__main__": run_as_script(main)``: with BENCH_EMIT_ROWS set (bench/run
    sets it), the rows follow the script's own output as ``BENCH-ROW`` lines."""
    rows = main()
    if os.environ.get("BENCH_EMIT_ROWS"):
        emit_all(rows)


# --- machine ------------------------------------------------------------------------------------
def machine_note() -> str:
    """CPUs and load: the benchmarks share this machine with other people's test runs."""
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} CPUs, load average {one:.1f} (1 min) / {five:.1f} (5 min)"


def peak_rss_mb() -> float:
    """This process's peak resident set size, in MiB.

    Linux's ``VmHWM`` belongs to the process's own address space. ``ru_maxrss`` is not enough
    in a subprocess: the kernel carries it over from the parent across fork+exec, so a child
    of a big parent would report the parent's size.
    """
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_pin(cpus: str | None) -> list[str]:
    """A ``taskset`` prefix pinning a command to ``cpus`` ("0", "1", "0-1"), if available."""
    if cpus is None or shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return []
    return ["taskset", "-c", cpus]


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def process_cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds the processes ``pids`` have used so far (those gone: 0)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def process_tree(root: int) -> list[int]:
    """``root`` and every process below it (PostgreSQL's postmaster and its backends)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += parents.get(pid, [])
    return found


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """How much of the machine's CPU was busy between two :func:`cpu_times` (all processes:
    the servers, PostgreSQL, wrk, and anyone else's)."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total else 0.0


# --- servers in subprocesses ------------------------------------------------------------------
def hub_executable() -> list[str]:
    script = Path(sys.executable).parent / "hub"
    return (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from hub.cli import main; main()"]
    )


@contextlib.contextmanager
def subprocess_server(
    command: list[str],
    *,
    env: dict[str, str],
    log_path: Path,
    health_url: str,
    cwd: Path,
) -> Iterator[subprocess.Popen]:
    """Start a server, wait until ``health_url`` answers 200, stop it with SIGTERM after."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{command[0]} exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}"
            )
        try:
            return httpx.get(health_url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, timeout=60, interval=0.05, what=f"{health_url} to answer")
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def base_env(**extra: str) -> dict[str, str]:
    """The environment of a server subprocess: ours, with the repository importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


# --- wrk ----------------------------------------------------------------------------------------
@dataclass
class WrkResult:
    requests: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    def summary(self) -> str:
        return (
            f"{self.per_second:8.0f} req/s  p50 {self.p50_ms:6.1f} ms  p99 {self.p99_ms:6.1f} ms"
            f"  ({self.requests} requests, {self.non_2xx} non-2xx, "
            f"{self.socket_errors} socket errors)"
        )


# wrk prints durations with these units (its units.c: us, ms, s, then m and h past 60 s), and
# pads a one- or two-letter unit to its column with trailing spaces ("1.02s ").
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION = r"(\d+(?:\.\d+)?)(us|ms|s|m|h)"


def duration_ms(text: str) -> float:
    """A wrk duration ("750.00us", "20.61ms", "1.02s ", "1.50m") in milliseconds."""
    found = re.fullmatch(r"\s*" + _DURATION + r"\s*", text)
    if found is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(found.group(1)) * _UNITS_MS[found.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """wrk's summary (``--latency``) as numbers; a ValueError naming what is missing."""
    latency = {
        pct: float(number) * _UNITS_MS[unit]
        for pct, number, unit in re.findall(
            r"^\s*(50|99)(?:\.0+)?%\s+" + _DURATION + r"\s*$", output, re.M
        )
    }
    done = re.search(r"(\d+) requests in " + _DURATION, output)
    rate = re.search(r"Requests/sec:\s+(\d+(?:\.\d+)?)", output)
    if done is None or rate is None or set(latency) != {"50", "99"}:
        raise ValueError(f"wrk output without its summary (run with --latency?):\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests=int(done.group(1)),
        seconds=float(done.group(2)) * _UNITS_MS[done.group(3)] / 1000,
        per_second=float(rate.group(1)),
        p50_ms=latency["50"],
        p99_ms=latency["99"],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def run_wrk(
    url: str,
    *,
    script: Path | None = None,
    connections: int = 64,
    seconds: int = 10,
    threads: int = 1,
    cpus: str | None = None,
    env: dict[str, str] | None = None,
    prefix: Sequence[str] = (),
) -> WrkResult:
    """wrk against ``url``; ``prefix`` goes before the command (a cgroup wrapper)."""
    command = [
        *prefix,
        *cpu_pin(cpus),
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if script is not None:
        command += ["-s", str(script)]
    done = subprocess.run(
        [*command, url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        env={**os.environ, **(env or {})},
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit(
            "wrk is not installed: `apt-get install -y wrk` (Debian), then run this again"
        )


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """``median (min-max)`` of paired rounds: the middle and how far the machine moved it."""
    ordered = sorted(values)
    if not ordered:
        return "-"
    middle, low, high = (
        fmt.format(v) for v in (statistics.median(ordered), ordered[0], ordered[-1])
    )
    return middle if len(ordered) == 1 else f"{middle} ({low}-{high})"


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


__all__ = [
    "ROOT",
    "Row",
    "Stopwatch",
    "WrkResult",
    "base_env",
    "cpu_pin",
    "emit_all",
    "free_port",
    "hub_executable",
    "machine_note",
    "parse_rows",
    "peak_rss_mb",
    "print_table",
    "require_wrk",
    "run_as_script",
    "run_wrk",
    "spread",
    "subprocess_server",
    "wait_until",
]
