"""Process trees, CPU time and resident memory of the suite, read from /proc (no psutil)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

TICK, NCPU = os.sysconf("SC_CLK_TCK"), os.cpu_count() or 1


def _read(path: str | Path) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, from /proc/<pid>/task/*/children."""
    out, stack = [], [pid]
    while stack and len(out) < 1000:
        p = stack.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            stack.extend(int(c) for c in _read(task / "children").split())
    return out


def suite_pids(run_dir: Path) -> dict[str, int]:
    pids = {}
    for path in sorted((run_dir / "pids").glob("*.pid")):
        text = _read(path).strip()
        if text.isdigit() and Path(f"/proc/{text}").exists():
            pids[path.stem] = int(text)
    return pids


def cpu_seconds(pid: int) -> float:
    """utime+stime of the process plus those of its reaped children."""
    fields = _read(f"/proc/{pid}/stat").rsplit(")", 1)[-1].split()
    return sum(int(x) for x in fields[11:15]) / TICK if len(fields) > 15 else 0.0


def cpu_snapshot(run_dir: Path, databases: set[str]) -> Counter:
    """CPU seconds so far per suite process, our PostgreSQL backends, RabbitMQ, us, and the machine."""
    out: Counter = Counter()
    for name, pid in suite_pids(run_dir).items():
        out[name] = sum(cpu_seconds(p) for p in tree(pid))
    for entry in Path("/proc").glob("[0-9]*"):
        comm = _read(entry / "comm").strip()
        if comm in ("beam.smp", "erl_child_setup", "epmd"):  # shared with whatever else uses the broker
            out["rabbitmq"] += cpu_seconds(int(entry.name))
        elif comm == "postgres":  # server processes, and the backends of our databases only
            args = _read(entry / "cmdline").replace("\0", " ").split()
            if databases & set(args) or not any("(" in a for a in args):
                out["postgres"] += cpu_seconds(int(entry.name))
    t = os.times()
    out["load generator"] = t.user + t.system
    ticks = [int(x) for x in _read("/proc/stat").split("\n", 1)[0].split()[1:]]
    out["machine"] = (sum(ticks[:8]) - ticks[3] - ticks[4]) / TICK  # all but idle and iowait
    return out


def cpu_delta(before: Counter, after: Counter, wall: float) -> dict[str, float]:
    """Percent of one core used by each group over ``wall`` seconds; "other" is the rest of the machine."""
    used = {k: 100 * (after[k] - before[k]) / wall for k in after if wall > 0}
    used["other"] = used.pop("machine", 0.0) - sum(used.values())
    return used


def memory(run_dir: Path) -> tuple[float, float, int]:
    """(VmRSS MB, PSS MB, process count) summed over every suite process and its children."""
    pids = [p for pid in suite_pids(run_dir).values() for p in tree(pid)]

    def mb(name: str, key: str) -> float:
        lines = (ln for p in pids for ln in _read(f"/proc/{p}/{name}").splitlines())
        return sum(int(ln.split()[1]) for ln in lines if ln.startswith(key)) / 1024

    return mb("status", "VmRSS:"), mb("smaps_rollup", "Pss:"), len(pids)
