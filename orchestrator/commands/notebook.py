"""`orch notebook` and `orch ingest`: the Colab route for experiments that want a cloud GPU."""

from pathlib import Path

import click

from orchestrator import paths
from orchestrator.console import say
from orchestrator.data.bundled import ensure_dataset
from orchestrator.errors import UserError
from orchestrator.results import ResultStore
from orchestrator.selection import select


@click.command("notebook")
@click.argument("experiment")
@click.option(
    "--profile",
    type=click.Choice(["quick", "full"]),
    default="quick",
    show_default=True,
    help="the PROFILE the notebook starts with (both profiles' specs are embedded)",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    show_default="notebooks/ of the project",
    help="folder for <slug>.ipynb",
)
@click.option("--dataset", default=paths.DEFAULT_DATASET, show_default=True, help="dataset name under data/")
@click.option("--check", is_flag=True, help="compare the existing notebook's inlined job code with the repository's")
def notebook_command(*, experiment: str, profile: str, out_dir: Path, dataset: str, check: bool) -> None:
    """Write a self-contained .ipynb for EXPERIMENT (envs timesfm, gluonts, torch) to run on Colab."""
    from orchestrator.notebooks.generate import NotebookInputs, drift, write_notebook  # nbformat: only when used

    out_dir = paths.notebooks_dir() if out_dir is None else out_dir
    chosen = select((experiment,), False, (), ())[0]
    path = out_dir / f"{chosen.slug}.ipynb"
    if check:
        if not path.is_file():
            raise UserError(f"{path}: no notebook to check (generate it with `orch notebook {chosen.slug}`)")
        problems = drift(path)
        if problems:
            raise UserError(f"{path}: inlined job code differs from the repository: {'; '.join(problems)}")
        click.echo(f"{path}: inlined job code matches the repository")
        return
    data_dir = paths.data_dir()
    manifest = ensure_dataset(data_dir, dataset, build=True)
    written = write_notebook(NotebookInputs(chosen, manifest, data_dir / f"{dataset}.parquet", profile), out_dir)
    click.echo(
        f"wrote {written} ({written.stat().st_size / 1024:.0f} KiB); upload {data_dir / f'{dataset}.parquet'} "
        "when it asks, or set DATA_URL"
    )


@click.command("ingest")
@click.argument("path", type=click.Path(path_type=Path))
def ingest_command(path: Path) -> None:
    """Validate a notebook's result (folder or zip of result.json + predictions.parquet) and store it."""
    from orchestrator.notebooks.ingest import ingest

    folder, result = ingest(path, paths.data_dir(), ResultStore(paths.results_dir()))
    auc = result.metrics["test"].auc
    note = " [random-init weights: not a finding]" if result.weights.kind == "random-init" else ""
    say(f"ran on: {result.provenance.host_platform}")
    click.echo(f"stored {folder} ({result.spec.slug}, test AUC {'n/a' if auc is None else f'{auc:.3f}'}){note}")
