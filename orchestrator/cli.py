"""`orch`: the host-side command line. Each sub-command lives in orchestrator/commands/."""

import click

from orchestrator.commands.data import data_group
from orchestrator.commands.doctor import doctor_command
from orchestrator.commands.experiments import list_command, plan_command, run_command, status_command, validate_command
from orchestrator.commands.schema import schema_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Run the foundation-model vs PatchTST study, one environment per model family."""


for command in (data_group, schema_group, list_command, plan_command, run_command, status_command,
                validate_command, doctor_command):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="orch")


if __name__ == "__main__":
    main()
