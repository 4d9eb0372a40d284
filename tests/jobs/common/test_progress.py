"""jobs/common/progress.py: the progress lines a job prints, read back by the host; a test figure is refused."""

import pytest

from jobs.common.progress import parse_progress_line, progress_line


def test_progress_lines_round_trip_and_refuse_test_figures():
    line = progress_line(seed=2, epoch=3, epochs=30, val_auc=0.61)
    assert parse_progress_line(line) == {"seed": 2, "epoch": 3, "epochs": 30, "val_auc": 0.61}
    assert parse_progress_line("[job] done: val AUC=0.6 test AUC=0.7") is None
    assert parse_progress_line("[progress] {not json") is None
    with pytest.raises(ValueError, match="test_auc"):
        progress_line(test_auc=0.7)
