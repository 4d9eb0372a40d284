"""User-facing failures: the CLI prints the message as one line and exits with `exit_code`."""


class UserError(Exception):
    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(message.split()))


class DataError(UserError):
    """Input data that cannot be turned into a dataset."""
