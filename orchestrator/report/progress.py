"""A progress bar for the report's bootstraps (the slow part of `orch report` on large results),
in the style of `orch run`'s live display: drawn on a terminal only, nothing in logs and pipes."""

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class BootstrapProgress:
    """Counts finished bootstrap stages (one per horizon's descriptive tables, one per plan rule)."""

    def __init__(self, console: Console, total: int) -> None:
        self.console, self.total = console, total
        self.bar: Progress | None = None
        self.task = None

    def advance(self, finished: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=f"bootstrap: {finished} done")


@contextmanager
def bootstrap_progress(console: Console | None, total: int) -> Iterator[BootstrapProgress]:
    progress = BootstrapProgress(console or Console(stderr=True), total)
    if not progress.console.is_terminal:
        yield progress
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=progress.console, transient=True, refresh_per_second=4) as bar:
        progress.bar, progress.task = bar, bar.add_task("bootstrap", total=total)
        yield progress
