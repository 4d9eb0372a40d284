"""One rich console for all output: colours and live displays only on a terminal."""

import json
import sys

from rich.console import Console
from rich.table import Table

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
if not console.is_terminal:  # logs and pipes: do not fold tables at 80 columns
    console.width = 200
if not err_console.is_terminal:
    err_console.width = 200


def say(message: str) -> None:
    err_console.print(message, markup=False)


def print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*[str(v) for v in row])
    console.print(table)


def print_json(payload) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
