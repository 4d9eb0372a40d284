"""One module per group of `orch` sub-commands."""
