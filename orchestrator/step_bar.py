"""The one progress bar over a known number of steps (`orch report`'s bootstraps, `orch export`'s
result folders), in `orch run`'s rich style; drawn on a terminal only, so logs and pipes stay clean."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


@contextmanager
def step_bar(console: Console, total: int, label: str) -> Iterator[Callable[..., None]]:
    """Yields `advance(label=None)`: one step done, the bar relabelled where a label is given."""
    if not console.is_terminal:
        yield lambda label=None: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True, refresh_per_second=4) as bar:
        task = bar.add_task(label, total=total)

        def advance(label: str | None = None) -> None:
            bar.update(task, advance=1, **({"description": label} if label else {}))

        yield advance
