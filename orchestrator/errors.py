"""User-facing failures: click prints the message as one line and exits with `exit_code`."""

import click


class UserError(click.ClickException):
    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class DataError(UserError):
    """Input data that cannot be turned into a dataset."""
