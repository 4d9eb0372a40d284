"""The host's name for the shared atomic writes and hashing (shared_schema/files.py holds them, so
that jobs and compose/run.py write and hash exactly as the host does)."""

from shared_schema.files import atomic_write_bytes, atomic_write_text, sha256_file

__all__ = ["atomic_write_bytes", "atomic_write_text", "sha256_file"]
