"""Threads per job come from the cores free at its start, shared fairly, and the math libraries
are told to sleep rather than spin while they wait for a core."""

import os

from orchestrator.cpu_threads import busy_cores, choose_threads, thread_env, usable_cores


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
