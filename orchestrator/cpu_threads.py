"""How many threads a job gets: its fair share of the cores that are actually free at its start.

On a machine other work keeps busy, a job that starts as many OpenMP threads as there are cores
spends its time spin-waiting for cores it does not get (the issue measured a 33x slowdown at load
8-9 on 2 cores). So a job's share is taken from the cores this process may use (affinity) minus
the load that is not ours, and the math libraries are told to sleep, not spin, while they wait.

Waiting threads sleep at once, also on a machine that looks quiet at a job's start: a short spin
first (GOMP_SPINCOUNT=10000) was measured against it in whole jobs (issue 34; benchmarks/
bench_kernels.py, variants spin/nospin; 2 runs each on a 2-core machine at load 9-14). There the
spin made iTransformer jobs 1.35x (full, one epoch) and 1.9x (quick) slower in wall time, DLinear's
within noise (0.9-1.1x); where it had paid (a quiet machine) it did so for iTransformer alone
(11.4 s -> 10.0 s of one full-profile epoch; four other models within noise), and load that arrives
after a quiet start cannot be foreseen.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path


def usable_cores() -> int:
    """Cores this process may run on (CPU affinity, cgroup-pinned containers), not the machine's."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _cpu_times() -> tuple[float, float] | None:
    """(busy, total) jiffies of all cores from /proc/stat; None off Linux."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    values = [float(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0.0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user time
    return total - idle, total


def busy_cores(sample_s: float = 0.2) -> float:
    """Cores in use right now (over `sample_s`), by anything. The load average would lag by a
    minute and count a job that just ended as busy; where /proc/stat is missing it is the fallback."""
    first = _cpu_times()
    if first is None:
        try:
            return os.getloadavg()[0]
        except (AttributeError, OSError):
            return 0.0
    time.sleep(sample_s)
    second = _cpu_times()
    busy, total = second[0] - first[0], second[1] - first[1]
    machine_cores = os.cpu_count() or 1
    return machine_cores * busy / total if total > 0 else 0.0


@dataclass(frozen=True)
class ThreadChoice:
    threads: int
    cores: int
    foreign_busy: float  # cores kept busy by work other than this orch process's running jobs


def choose_threads(
    parallel_jobs: int, own_threads_running: int, cores: int | None = None, busy: float | None = None
) -> ThreadChoice:
    """A job's threads: the cores nobody else is using, shared fairly among `parallel_jobs`.

    `own_threads_running` is what this orch process's running jobs already use; they show as
    busy cores and must not be counted as foreign. Never fewer than one thread.
    """
    cores = usable_cores() if cores is None else cores
    busy = busy_cores() if busy is None else busy
    foreign = max(0.0, busy - own_threads_running)
    free = max(1, int(cores - foreign + 0.5))
    fair = max(1, cores // max(1, parallel_jobs))
    return ThreadChoice(max(1, min(fair, free)), cores, foreign)


def thread_env(threads: int) -> dict[str, str]:
    """Cap every math library's pool, and make idle pool threads sleep instead of spinning (libgomp,
    torch's OpenMP on Linux; KMP_BLOCKTIME for Intel's and LLVM's runtimes)."""
    value = str(max(1, threads))
    caps = {
        name: value for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
    }
    return {**caps, "OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "0", "KMP_BLOCKTIME": "0"}
