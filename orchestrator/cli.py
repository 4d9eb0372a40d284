"""`orch`: the host-side command line. Sub-commands live in orchestrator/commands/, except `orch report`
(orchestrator/report/cli.py) and `orch weights` (orchestrator/weights.py), beside the code they drive."""

import os

import click

from orchestrator import paths, stopping
from orchestrator.commands.bench import bench_group
from orchestrator.commands.data import data_group
from orchestrator.commands.docker import build_images_command, compose_command, test_images_command
from orchestrator.commands.doctor import doctor_command
from orchestrator.commands.experiments import list_command, plan_command, run_command, status_command, validate_command
from orchestrator.commands.export import export_command
from orchestrator.commands.notebook import ingest_command, notebook_command
from orchestrator.commands.project import init_command
from orchestrator.commands.schema import schema_group
from orchestrator.report.cli import report_command
from orchestrator.weights import weights_group

# Tools orch starts keep their caches under ORCH_CACHE_DIR (not ~/.cache) unless the user chose a place.
TOOL_CACHES = {"UV_CACHE_DIR": "uv", "MPLCONFIGDIR": "matplotlib"}
USER_TOOL_CACHES = frozenset(name for name in TOOL_CACHES if name in os.environ)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Run the foundation-model vs PatchTST study, one environment per model family."""
    for variable, folder in TOOL_CACHES.items():
        if variable not in USER_TOOL_CACHES:
            os.environ[variable] = str(paths.cache_dir() / folder)


for command in (
    data_group,
    schema_group,
    list_command,
    plan_command,
    run_command,
    status_command,
    validate_command,
    doctor_command,
    weights_group,
    build_images_command,
    compose_command,
    test_images_command,
    report_command,
    notebook_command,
    ingest_command,
    bench_group,
    init_command,
    export_command,
):
    cli.add_command(command)


def main() -> None:
    stopping.install()  # SIGTERM (a CI timeout, `kill`) stops jobs exactly as Ctrl-C does
    cli(prog_name="orch")


if __name__ == "__main__":
    main()
