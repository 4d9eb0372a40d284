"""Threads per job come from the cores free at its start, shared fairly, and the math libraries
are told to sleep rather than spin while they wait for a core."""

import os
from pathlib import Path

from orchestrator.cpu_threads import (
    ThreadChoice,
    busy_cores,
    choose_threads,
    thread_env,
    usable_cores,
)


def test_idle_machine_gives_each_job_its_fair_share():
    assert choose_threads(parallel_jobs=1, own_threads_running=0, cores=8, busy=0.0).threads == 8
    assert choose_threads(parallel_jobs=3, own_threads_running=0, cores=8, busy=0.0).threads == 2


def test_foreign_load_shrinks_the_share_but_our_own_jobs_do_not():
    busy_elsewhere = choose_threads(parallel_jobs=1, own_threads_running=0, cores=2, busy=1.9)
    assert busy_elsewhere.threads == 1 and busy_elsewhere.foreign_busy == 1.9
    # Two cores busy, both with our own first job's threads: the second job still gets its share.
    assert choose_threads(parallel_jobs=2, own_threads_running=2, cores=4, busy=2.0).threads == 2
    assert choose_threads(parallel_jobs=1, own_threads_running=0, cores=2, busy=9.0).threads == 1  # never zero


def test_thread_env_caps_pools_and_makes_waiting_threads_sleep():
    env = thread_env(3)
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "3"
    assert env["OMP_WAIT_POLICY"] == "PASSIVE" and env["GOMP_SPINCOUNT"] == "0" and env["KMP_BLOCKTIME"] == "0"


def test_this_machine_is_measured():
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)
    assert 0.0 <= busy_cores(sample_s=0.05) <= (os.cpu_count() or 1) + 0.01


def test_the_scheduler_hands_each_job_its_thread_choice(orch_home, monkeypatch):
    import orchestrator.scheduler as scheduler_module
    from orchestrator.executors.base import ExecOutcome, Executor
    from orchestrator.experiment_runs import RunRequest, prepare_run
    from orchestrator.results import ResultStore

    quiet = ThreadChoice(threads=2, cores=2, foreign_busy=0.0)
    monkeypatch.setattr(scheduler_module, "choose_threads", lambda parallel_jobs, own_threads_running: quiet)
    requests = []

    class Recording(Executor):
        name = "fake"

        def prepare(self, env, say):
            pass

        def execute(self, request):
            requests.append(request)
            return ExecOutcome(1, "job failed: fake executor")

    prepared = prepare_run(RunRequest(names=("dlinear-h1",), executor="native"), build_dataset=True)
    store = ResultStore(prepared.store.root)
    scheduler_module.Scheduler(
        Recording(), store, prepared.data_dir, None, jobs=1, keep_going=True, timeout_s=None, say=lambda line: None
    ).run(prepared.decisions)
    assert [r.threads for r in requests] == [2]


def test_native_jobs_get_the_wait_policy_in_their_environment(orch_home, monkeypatch, tmp_path):
    import sys

    import orchestrator.executors.native as native
    from orchestrator.executors.base import JobRequest
    from orchestrator.experiment_runs import RunRequest, prepare_run

    seen: list[dict[str, str]] = []

    def capture(command, request, env, cwd):  # the subprocess itself is not under test here
        seen.append(env)
        return 0, "", False, False

    monkeypatch.setattr(native, "run_streaming", capture)
    executor = native.NativeExecutor()
    monkeypatch.setattr(executor, "python", lambda env: Path(sys.executable))
    run = prepare_run(RunRequest(names=("dlinear-h1",), executor="native"), build_dataset=True).decisions[0].run
    executor.execute(
        JobRequest(
            run=run,
            staging=tmp_path,
            data_dir=tmp_path,
            weights_dir=None,
            threads=2,
            timeout_s=10,
            log_path=tmp_path / "job.log",
        )
    )
    assert [env["GOMP_SPINCOUNT"] for env in seen] == ["0"]
    assert all(env["OMP_NUM_THREADS"] == "2" and env["OMP_WAIT_POLICY"] == "PASSIVE" for env in seen)
