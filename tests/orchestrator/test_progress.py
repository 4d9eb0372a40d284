"""orchestrator/progress.py, the live board: epoch and validation AUC per running job (from the
jobs' progress lines) and an overall k/N with an ETA from past durations; plain lines without a
terminal; the test AUC never appears."""

import io

import pytest
from rich.console import Console

from jobs.common.progress import progress_line
from orchestrator.progress import ProgressBoard, ProgressDisplay, duration


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_board_eta_from_past_durations_and_parallel_slots():
    clock = Clock()
    board = ProgressBoard(total=4, parallel=2, expected_seconds={"a-h1": 100.0}, clock=clock)
    board.plan(["a-h1", "a-h1", "b-h1", "b-h1"])
    assert board.eta_seconds() is None  # b-h1 has no past duration and nothing has finished yet
    board.start("a-h1-s0", "a-h1", (0, 1))
    clock.now = 40.0
    board.finish("x", 60.0, ok=True, last_of_unit=True)  # some finished run: the mean is 60 s
    # a-h1: 2 seeds x 100 s - 40 s elapsed = 160; b-h1 waiting: 2 x 60 = 120; over 2 slots
    assert board.eta_seconds() == pytest.approx((160 + 120) / 2)
    assert board.job_line("a-h1-s0", progress_line(seed=0, epoch=2, epochs=4, val_auc=0.55))
    assert board.job_line("a-h1-s0", progress_line(seed=1, epoch=1, epochs=4, val_auc=0.52))
    assert board.running["a-h1-s0"].seeds_done == 1
    assert board.running_lines() == ["a-h1 seeds 0-1 (1/2 done), s1 epoch 1/4, val AUC 0.520, 40s"]
    assert board.overall().startswith("[1/4] done, 1 running, 40s elapsed, ETA ")


def test_plain_lines_without_a_terminal_and_never_the_test_auc():
    out = io.StringIO()
    board = ProgressBoard(total=1, parallel=1, clock=Clock())
    display = ProgressDisplay(board, Console(file=out, force_terminal=False, width=200))
    with display:
        display.started("m-h1-s0", "m-h1", (0,))
        display.line("m-h1-s0", progress_line(seed=0, epoch=1, epochs=2, val_auc=0.5))
        display.line("m-h1-s0", "[job] done: val AUC=0.510 test AUC=0.777 in 3.0s")
    text = out.getvalue()
    assert "m-h1 s0: started" in text and "epoch 1/2, val AUC 0.500" in text
    assert "0.777" not in text and "test AUC" not in text


def test_durations_read_like_a_clock():
    assert [duration(s) for s in (5, 65, 3725)] == ["5s", "1m05s", "1h02m"]
