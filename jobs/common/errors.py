"""A job failure the entrypoint reports as one line on stderr with a non-zero exit."""


class JobError(Exception):
    exit_code = 2
