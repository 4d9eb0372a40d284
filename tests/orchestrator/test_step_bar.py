"""orchestrator/step_bar.py, the one progress bar of `orch report` and `orch export`: drawn on a
terminal, with its steps counted and its label changed as steps finish; nothing off a terminal."""

import io

from rich.console import Console

from orchestrator.step_bar import step_bar


def test_bar_on_a_terminal_counts_steps_and_takes_new_labels():
    shown = io.StringIO()
    with step_bar(Console(file=shown, force_terminal=True, width=100), 3, "reading results") as advance:
        advance()
        advance("rule D1 done")
        advance()
    assert "reading results" in shown.getvalue() and "rule D1 done" in shown.getvalue()
    assert "3/3" in shown.getvalue()


def test_nothing_is_drawn_off_a_terminal():
    quiet = io.StringIO()
    with step_bar(Console(file=quiet, force_terminal=False), 3, "bootstrap") as advance:
        advance("bootstrap: rule D1 done")
    assert quiet.getvalue() == ""
