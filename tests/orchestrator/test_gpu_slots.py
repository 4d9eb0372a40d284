"""GPU slots with fake devices: accounting never exceeds a device's budget or slot count, jobs are
pinned to a device, and the scheduler shares the devices while still respecting -j."""

import random
import threading

from orchestrator.executors.base import ExecOutcome, Executor
from orchestrator.experiment_runs import RunRequest, prepare_run
from orchestrator.gpu_slots import BUDGET_FRACTION, GpuDevice, GpuLease, GpuSlots, parse_nvidia_smi, peak_gb
from orchestrator.registry import BY_SLUG
from orchestrator.results import ResultStore
from orchestrator.scheduler import Scheduler

BOUND_S = 60  # every wait in these tests is bounded, never timed


def test_nvidia_smi_rows_become_devices():
    devices = parse_nvidia_smi(
        "0, NVIDIA H100 80GB HBM3, 81000\n1, NVIDIA H100 80GB HBM3, 40960\nNo devices were found\n"
    )
    assert [(d.index, d.free_gb) for d in devices] == [("0", 81000 / 1024), ("1", 40.0)]
    assert parse_nvidia_smi("") == []


def test_concurrent_accounting_never_exceeds_budget_or_slots():
    devices = [GpuDevice("0", "fake", 20.0), GpuDevice("1", "fake", 12.0)]
    slots = GpuSlots(devices, max_jobs_per_device=3)
    budgets = {d.index: d.free_gb * BUDGET_FRACTION for d in devices}
    lock = threading.Lock()
    in_use = {d.index: [0.0, 0] for d in devices}
    violations: list[str] = []
    cancel = threading.Event()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(40):
            peak = rng.choice([0.5, 1.0, 3.0, 6.0])
            lease = slots.acquire(peak, cancel)
            with lock:
                used = in_use[lease.device]
                used[0] += peak
                used[1] += 1
                if used[1] > 3 or (used[0] > budgets[lease.device] + 1e-9 and used[1] > 1):
                    violations.append(f"{lease.device}: {used}")
            with lock:
                used[0] -= peak
                used[1] -= 1
            slots.release(lease)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(BOUND_S)
    assert not any(t.is_alive() for t in threads)
    assert violations == []
    assert all(p.used_gb == 0 and p.jobs == 0 for p in slots.pools)


def test_a_job_larger_than_the_budget_runs_alone():
    slots = GpuSlots([GpuDevice("0", "fake", 10.0)])
    cancel = threading.Event()
    big = slots.acquire(50.0, cancel)
    assert big.device == "0"
    assert not slots.pools[0].room_for(0.5)  # nothing shares the device with it
    slots.release(big)
    assert slots.pools[0].room_for(0.5)


def test_cancel_while_waiting_returns_no_device():
    slots = GpuSlots([GpuDevice("0", "fake", 10.0)], max_jobs_per_device=1)
    cancel = threading.Event()
    held = slots.acquire(1.0, cancel)
    cancel.set()
    assert slots.acquire(1.0, cancel).device is None
    slots.release(held)


def test_lease_pins_the_job_and_stops_jax_preallocating():
    assert GpuLease("1", 2.0).visible_devices() == {
        "CUDA_VISIBLE_DEVICES": "1",
        "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
    }
    assert GpuLease(None, 0.0).visible_devices() == {}


def test_measured_peak_beats_the_declared_one():
    experiment = BY_SLUG["patchtst-h1"]
    assert peak_gb(experiment, "full", {}) == experiment.resources.gpu_memory_gb
    assert peak_gb(experiment, "full", {("patchtst-h1", "full"): 1.0}) < experiment.resources.gpu_memory_gb


class GatedExecutor(Executor):
    """Records which device each job was pinned to and how many share a device, and holds every
    job until the test has seen the expected concurrency."""

    name = "fake"

    def __init__(self):
        self.cond = threading.Condition()
        self.inside: dict[str, int] = {}
        self.most: dict[str, int] = {}
        self.release = threading.Event()
        self.seen: list[dict] = []

    def prepare(self, env, say):
        pass

    def execute(self, request):
        device = request.device_env["CUDA_VISIBLE_DEVICES"]
        with self.cond:
            self.seen.append(dict(request.device_env))
            self.inside[device] = self.inside.get(device, 0) + 1
            self.most[device] = max(self.most.get(device, 0), self.inside[device])
            self.cond.notify_all()
        self.release.wait(BOUND_S)
        with self.cond:
            self.inside[device] -= 1
        return ExecOutcome(1, "job failed: fake executor")


def test_scheduler_shares_fake_gpus_within_slots_and_jobs(orch_home):
    prepared = prepare_run(
        RunRequest(
            names=("dlinear-h1", "dlinear-h3", "patchtst-h1", "patchtst-h3", "crossformer-h1", "crossformer-h3"),
            profile="full",
            executor="native",
        ),
        build_dataset=True,
    )
    decisions, store, data_dir = prepared.decisions, prepared.store, prepared.data_dir
    executor = GatedExecutor()
    slots = GpuSlots([GpuDevice("0", "fake", 40.0), GpuDevice("1", "fake", 40.0)], max_jobs_per_device=2)
    scheduler = Scheduler(
        executor,
        ResultStore(store.root),
        data_dir,
        None,
        jobs=5,
        keep_going=True,
        timeout_s=None,
        say=lambda line: None,
        gpu_slots=slots,
    )
    outcomes: list = []
    runner = threading.Thread(target=lambda: outcomes.extend(scheduler.run(decisions)))
    runner.start()
    with executor.cond:
        reached = executor.cond.wait_for(lambda: sum(executor.inside.values()) == 4, timeout=BOUND_S)
    assert reached  # 2 devices x 2 slots, though -j allows 5
    executor.release.set()
    runner.join(BOUND_S)
    assert not runner.is_alive()
    assert len(outcomes) == 6 and all(o.kind == "crash" for o in outcomes)
    assert max(executor.most.values()) == 2 and set(executor.most) == {"0", "1"}
    assert all(p.jobs == 0 for p in slots.pools)


def test_docker_jobs_get_the_slot_device_and_the_passive_thread_policy(orch_home):
    """The container sees only its slot's GPU (as its device 0); no engine needed to build the command."""
    from pathlib import Path

    from orchestrator.environments import ENVIRONMENTS
    from orchestrator.executors.base import JobRequest
    from orchestrator.executors.docker import docker_run_argv

    decisions = prepare_run(RunRequest(names=("patchtst-h1",), executor="native"), build_dataset=True).decisions
    request = JobRequest(
        run=decisions[0].run,
        staging=Path("/tmp/s"),
        data_dir=Path("/tmp/d"),
        weights_dir=None,
        threads=1,
        timeout_s=10,
        log_path=Path("/tmp/s/job.log"),
        device_env=GpuLease("1", 2.0).visible_devices(),
    )
    command = docker_run_argv(
        request, image="image", name="name", env=ENVIRONMENTS["torch"], gpus=True, job_command=None
    )
    assert command[command.index("--gpus") + 1] == "device=1"
    assert "CUDA_VISIBLE_DEVICES=1" not in command
    assert "XLA_PYTHON_CLIENT_PREALLOCATE=false" in command and "OMP_WAIT_POLICY=PASSIVE" in command
    assert "GOMP_SPINCOUNT=0" in command  # waiting threads sleep at once
