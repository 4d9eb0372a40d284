"""`orch init`: make a folder that is not a checkout an `orch` project (its data/ and results/ live there)."""

from pathlib import Path

import click

from orchestrator import paths
from orchestrator.console import say
from orchestrator.errors import UserError
from orchestrator.fsutil import atomic_write_text

PROJECT_FILE_TEXT = f"""\
# An {paths.PROJECT_NAME} project: `orch` run in this folder or any folder below it keeps its
# datasets in data/ and its runs in results/ here (ORCH_DATA_DIR / ORCH_RESULTS_DIR override).
[project]
name = "{paths.PROJECT_NAME}"
"""


@click.command("init")
@click.argument("folder", type=click.Path(path_type=Path), default=".")
def init_command(folder: Path) -> None:
    """Make FOLDER (default: the current one) an orch project: write its orch.toml."""
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    folder = folder.resolve()
    marker = paths.project_marker(folder)
    if marker is not None:
        say(f"{folder} is already an orch project ({marker}); nothing to do")
        return
    try:
        atomic_write_text(folder / paths.PROJECT_FILE, PROJECT_FILE_TEXT)
    except OSError as exc:
        raise UserError(f"cannot write {folder / paths.PROJECT_FILE}: {exc.strerror or exc}") from exc
    say(f"wrote {folder / paths.PROJECT_FILE}: datasets go to {folder / 'data'}, runs to {folder / 'results'}")
