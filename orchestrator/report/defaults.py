"""The report's statistical defaults, in one stdlib-only module: the `orch report` and `orch export`
options show them without loading scipy or pandas, and the statistics read the same values."""

DEFAULT_RESAMPLES = 2000  # bootstrap resamples per interval
DEFAULT_BLOCK_LENGTH: int | None = None  # None: chosen from the data per fold (Politis-White)
DEFAULT_MIN_SEEDS = 3  # seeds a model needs before its seed variance enters a comparison
