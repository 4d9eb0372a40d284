"""Self-contained notebooks for the Colab route, and ingesting what they produce.

`generate` writes an .ipynb from the job code itself (the env's `jobs/` and `shared_schema/` files,
inlined at generation time); `ingest` validates a notebook's result.json + predictions.parquet with
the same host validation and commit as every executor (`orchestrator.results`).
"""
