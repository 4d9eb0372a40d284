"""GPU slots: several jobs share one card, as many as its free memory holds.

One pool per device. A job asks for its peak device memory (measured by an earlier run of the
same experiment, else declared in the registry) and gets the device with the most room left; it
waits while none has room. `--gpu-slots N` caps the jobs per device; by default only memory
limits them. A job bigger than a device's whole budget still runs, alone on an idle device (the
old single-token behaviour), rather than never. Jobs are pinned with CUDA_VISIBLE_DEVICES.

No ML stack is imported: devices come from `nvidia-smi`, so this works on the host.
"""

import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass

# Memory left to the driver, cuDNN workspaces and fragmentation: a pool hands out this share.
BUDGET_FRACTION = 0.85
# What a GPU job that has never run here and declares nothing is assumed to need.
UNKNOWN_PEAK_GB = 4.0


@dataclass(frozen=True)
class GpuDevice:
    index: str  # as CUDA_VISIBLE_DEVICES spells it ("0", "1", ...); "mps" for Apple silicon
    name: str
    free_gb: float


@dataclass(frozen=True)
class GpuLease:
    """Where a job runs: `device` is None for a CPU-only job."""

    device: str | None
    peak_gb: float

    def visible_devices(self) -> dict[str, str]:
        """Environment pinning the job to its device (nothing for CPU jobs or MPS). JAX would
        otherwise take 75% of the card at start and leave no room for the other slots."""
        if self.device is None or self.device == "mps":
            return {}
        return {"CUDA_VISIBLE_DEVICES": self.device, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}


NO_GPU = GpuLease(None, 0.0)


def parse_nvidia_smi(text: str) -> list[GpuDevice]:
    """Rows of `index, name, memory.free [MiB]` (csv, noheader, nounits)."""
    devices = []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3 or not parts[0].isdigit():
            continue
        try:
            devices.append(GpuDevice(parts[0], parts[1], float(parts[2]) / 1024))
        except ValueError:
            continue
    return devices


def discover_gpus() -> list[GpuDevice]:
    """CUDA devices with their free memory now; Apple-silicon MPS as one device sharing RAM."""
    if sys.platform == "darwin" and os.uname().machine == "arm64":
        ram_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        return [GpuDevice("mps", "Apple MPS", ram_gb / 2)]
    if not shutil.which("nvidia-smi"):
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return []  # the user hid every GPU from this run
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=index,name,memory.free", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    devices = parse_nvidia_smi(done.stdout) if done.returncode == 0 else []
    if visible is not None:  # only the devices the user left visible (by index)
        allowed = {v.strip() for v in visible.split(",")}
        devices = [d for d in devices if d.index in allowed]
    return devices


class _DevicePool:
    def __init__(self, device: GpuDevice, max_jobs: int | None):
        self.device = device
        self.budget_gb = device.free_gb * BUDGET_FRACTION
        self.max_jobs = max_jobs
        self.used_gb = 0.0
        self.jobs = 0

    def room_for(self, peak_gb: float) -> bool:
        if self.max_jobs is not None and self.jobs >= self.max_jobs:
            return False
        if self.jobs == 0:
            return True  # an idle device takes any job, even one larger than its budget
        return self.used_gb + peak_gb <= self.budget_gb


class GpuSlots:
    """Thread-safe slot accounting over every device; `acquire` blocks until a device has room."""

    def __init__(self, devices: list[GpuDevice], max_jobs_per_device: int | None = None):
        if max_jobs_per_device is not None and max_jobs_per_device < 1:
            raise ValueError(f"gpu slots must be >= 1, got {max_jobs_per_device}")
        self.pools = [_DevicePool(d, max_jobs_per_device) for d in devices]
        self.cond = threading.Condition()

    @property
    def has_gpu(self) -> bool:
        return bool(self.pools)

    def acquire(self, peak_gb: float, cancel: threading.Event) -> GpuLease:
        """The device with most room for `peak_gb`; NO_GPU if cancelled while waiting."""
        with self.cond:
            while not cancel.is_set():
                fitting = [p for p in self.pools if p.room_for(peak_gb)]
                if fitting:
                    pool = max(fitting, key=lambda p: (p.budget_gb - p.used_gb, -p.jobs))
                    pool.used_gb += peak_gb
                    pool.jobs += 1
                    return GpuLease(pool.device.index, peak_gb)
                self.cond.wait(timeout=0.5)
        return NO_GPU

    def release(self, lease: GpuLease) -> None:
        if lease.device is None:
            return
        with self.cond:
            pool = next(p for p in self.pools if p.device.index == lease.device)
            pool.used_gb -= lease.peak_gb
            pool.jobs -= 1
            self.cond.notify_all()

    def describe(self) -> str:
        if not self.pools:
            return "no GPU: jobs run on the CPU"
        parts = []
        for p in self.pools:
            cap = f"at most {p.max_jobs} job(s)" if p.max_jobs is not None else "jobs limited by memory"
            parts.append(f"GPU {p.device.index} ({p.device.name}): {p.budget_gb:.1f} GiB budget, {cap}")
        return "; ".join(parts)


# Added to a measured allocator peak: the CUDA context and the allocator's slack.
CONTEXT_GB = 0.75


def measured_peaks_gb(store) -> dict[tuple[str, str], float]:
    """(slug, profile) -> the device-memory peak the newest finished run reported, if any."""
    peaks = {}
    for stored in store.finished():
        peak = stored.result.notes.get("gpu_peak_gb")
        if isinstance(peak, int | float):
            peaks[(stored.result.spec.slug, stored.result.spec.profile)] = float(peak)
    return peaks


def peak_gb(experiment, profile: str, measured: dict[tuple[str, str], float]) -> float:
    """Measured peak (plus context) when this experiment has run here before, else declared."""
    if (experiment.slug, profile) in measured:
        return measured[(experiment.slug, profile)] + CONTEXT_GB
    return experiment.resources.gpu_memory_gb or UNKNOWN_PEAK_GB
