"""The host's name for the shared atomic writes and hashing (shared_schema/files.py holds them, so
that jobs and compose/run.py write and hash exactly as the host does), and its one-line wording of
a failed write."""

from shared_schema.files import atomic_write_bytes, atomic_write_text, sha256_file

__all__ = ["atomic_write_bytes", "atomic_write_text", "describe_os_error", "sha256_file"]


def describe_os_error(exc: OSError) -> str:
    """`No space left on device (results/.staging/x/spec.json)`: one line for a failed write."""
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"
