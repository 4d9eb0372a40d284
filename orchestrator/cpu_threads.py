"""How many threads a job gets: its fair share of the cores that are actually free at its start.

On a machine other work keeps busy, a job that starts as many OpenMP threads as there are cores
spends its time spin-waiting for cores it does not get (the issue measured a 33x slowdown at load
8-9 on 2 cores). So a job's share is taken from the cores this process may use (affinity) minus
the load that is not ours, and the math libraries are told to sleep, not spin, while they wait
(after a short spin where the machine was quiet at the job's start: see SPIN_BEFORE_SLEEP).
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


# An OpenMP thread that sleeps as soon as it waits pays a wake-up at every parallel region. On an
# idle 2-core machine, sleeping at once made training steps 1.1-1.6x slower than spinning 10,000
# times first (iTransformer 76 against 47 ms, DLinear 2.4 against 1.6 ms, TimeMixer 346 against
# 289 ms, PatchTST 389 against 341 ms; libgomp, 2 threads). A spinning thread takes a core from
# other work, though: with one busy process started after the job, the same 10,000 spins made
# those steps 1.1-2.6x slower than sleeping at once. So a job spins first only where the machine
# was quiet at its start, and sleeps at once elsewhere. Load that arrives later is the one case it
# cannot foresee. In whole full-profile jobs (one epoch, 2 cores, 2 runs each) the gain is smaller,
# as their batches run longer between waits: iTransformer trained in 10.0 s against 11.4 s, while
# DLinear, PatchTST, TimeMixer and Crossformer stayed within run-to-run noise.
SPIN_BEFORE_SLEEP = 10_000  # libgomp's GOMP_SPINCOUNT: spin iterations before a waiting thread sleeps
QUIET_BELOW = 0.25  # cores of foreign load a machine may show and still count as quiet


@dataclass(frozen=True)
class ThreadChoice:
    threads: int
    cores: int
    foreign_busy: float  # cores kept busy by work other than this orch process's running jobs
    spin_wait: bool = False  # the machine was quiet: waiting threads spin briefly before they sleep


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
    threads = max(1, min(fair, free))
    quiet = foreign < QUIET_BELOW and own_threads_running + threads <= cores
    return ThreadChoice(threads, cores, foreign, spin_wait=quiet and threads > 1)


def thread_env(threads: int, spin_wait: bool = False) -> dict[str, str]:
    """Cap every math library's pool, and make idle pool threads sleep instead of spinning (after
    SPIN_BEFORE_SLEEP spins with `spin_wait`; libgomp only, torch's OpenMP on Linux: Intel's and
    LLVM's runtimes, KMP_BLOCKTIME, always sleep at once, as no figure of theirs was measured)."""
    value = str(max(1, threads))
    caps = {
        name: value for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
    }
    spins = SPIN_BEFORE_SLEEP if spin_wait and threads > 1 else 0
    return {**caps, "OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": str(spins), "KMP_BLOCKTIME": "0"}
