"""Builds the one parquet dataset (features, targets, splits) that every job reads."""
