"""What every job shares: dataset loading, windows, metrics, result writing, the entrypoint."""
