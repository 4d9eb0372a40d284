"""Runs a job and stops it when `orch` dies, even by `kill -9` (which no handler in orch can see).

    python -I lifeline.py COMMAND...

Its stdin is a pipe whose write end only the orch process holds: when orch dies, for any reason,
the kernel closes it and the read below returns. The lifeline then stops its process group - the
job and anything the job started - with SIGTERM, then SIGKILL after a grace period. Otherwise it
is transparent: the job's exit status (or the signal that killed it) becomes its own.
Standard library only: it runs under the host's Python, before and outside any job environment.
"""

import os
import signal
import subprocess
import sys
import threading
import time

GRACE_SECONDS = 5.0


def _stop_group_when_parent_dies(job: subprocess.Popen) -> None:
    while os.read(0, 4096):  # returns b"" only at EOF: orch has exited
        pass
    if job.poll() is not None:
        return
    group = os.getpgid(0)
    os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    while job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(group, signal.SIGKILL)


def main(command: list[str]) -> int:
    # orch stops a job by signalling the whole group; the job gets the signal itself, and the
    # lifeline only waits for it. (A Python-level handler, unlike SIG_IGN, is not inherited.)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: None)
    job = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    threading.Thread(target=_stop_group_when_parent_dies, args=(job,), daemon=True).start()
    code = job.wait()
    if code < 0:  # die of the same signal, so orch sees exactly what happened to the job
        if -code not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


if __name__ == "__main__":
    sys.stdout.flush()
    os._exit(main(sys.argv[1:]))  # no interpreter shutdown: the watcher thread may be blocked in read()
