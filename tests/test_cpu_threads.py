"""Threads per job come from the cores free at its start, shared fairly, and the math libraries
are told to sleep rather than spin while they wait for a core (after a short spin, where the
machine was quiet at the start)."""

import os

from orchestrator.cpu_threads import (
    QUIET_BELOW,
    SPIN_BEFORE_SLEEP,
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
    spinning = thread_env(3, spin_wait=True)  # a short spin first, then the same sleep
    assert spinning["GOMP_SPINCOUNT"] == str(SPIN_BEFORE_SLEEP) and spinning["OMP_WAIT_POLICY"] == "PASSIVE"
    assert thread_env(1, spin_wait=True)["GOMP_SPINCOUNT"] == "0"  # one thread never waits for a team


def test_waiting_threads_spin_first_only_on_a_machine_quiet_at_the_start():
    assert choose_threads(parallel_jobs=1, own_threads_running=0, cores=4, busy=0.1).spin_wait
    # Our own running jobs are not foreign load, as long as all threads fit on the cores.
    assert choose_threads(parallel_jobs=2, own_threads_running=2, cores=4, busy=2.0).spin_wait
    assert not choose_threads(parallel_jobs=1, own_threads_running=0, cores=4, busy=QUIET_BELOW + 0.05).spin_wait
    assert not choose_threads(parallel_jobs=1, own_threads_running=0, cores=2, busy=1.9).spin_wait  # 1 thread
    assert not choose_threads(parallel_jobs=2, own_threads_running=3, cores=4, busy=3.0).spin_wait  # 5 threads, 4 cores


def test_this_machine_is_measured():
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)
    assert 0.0 <= busy_cores(sample_s=0.05) <= (os.cpu_count() or 1) + 0.01
