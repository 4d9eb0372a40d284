"""`orch schema export`: JSON Schema files of the shared models."""

from pathlib import Path

import click

from orchestrator.errors import UserError
from shared_schema.export import SCHEMA_DIR, export_schemas, render_schemas


@click.group("schema")
def schema_group() -> None:
    """The shared result/spec/manifest schema."""


@schema_group.command("export")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=SCHEMA_DIR, show_default=True)
@click.option("--check", is_flag=True, help="exit non-zero if the files on disk differ from the models")
def export_command(out_dir: Path, check: bool) -> None:
    """Write <model>.schema.json files (or check that they are current)."""
    if check:
        stale = [
            name
            for name, text in render_schemas().items()
            if not (out_dir / name).is_file() or (out_dir / name).read_text() != text
        ]
        if stale:
            raise UserError(f"schema files out of date: {', '.join(stale)} (run `orch schema export`)")
        click.echo(f"schema files in {out_dir} are current")
        return
    for path in export_schemas(out_dir):
        click.echo(f"wrote {path}")
