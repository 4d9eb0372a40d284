"""Ctrl-C and SIGTERM stop a run the same way; which of them it was is kept for the messages.

`install()` runs first thing in `orch`'s main, before any job can start, so a stop request always
becomes a KeyboardInterrupt that the scheduler turns into a clean stop.
"""

import signal

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: list[int] = []


def _request_stop(signum, frame) -> None:
    _received.append(signum)
    raise KeyboardInterrupt


def install() -> None:
    for sig in STOP_SIGNALS:
        signal.signal(sig, _request_stop)


def ignore_further() -> None:
    """While jobs are being stopped, a second Ctrl-C/SIGTERM must not cut the clean-up short."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def stop_signal() -> signal.Signals:
    """The signal that asked for the stop; a KeyboardInterrupt without one was Ctrl-C."""
    return signal.Signals(_received[-1]) if _received else signal.SIGINT


def describe(sig: signal.Signals) -> str:
    return "Ctrl-C (SIGINT)" if sig == signal.SIGINT else sig.name
