"""Lag-Llama hyper-parameters: a frozen, self-validating dataclass with the released defaults."""

import warnings
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

# Frequencies whose default lags Lag-Llama's estimator unions (one default lag each).
LAG_FREQUENCIES = ("Q", "M", "W", "D", "H", "T", "S")
NUM_TIME_FEATURES = 6  # time_features_from_frequency_str("S"): sec, min, hour, dow, dom, doy
SUPPORTED_SCALING = ("robust", "std", "none")


@lru_cache(maxsize=1)
def default_lags() -> tuple[int, ...]:
    """0-based lag indices: sorted union of GluonTS default lags over Q..S, minus 1 (84 lags, max 1092)."""
    from gluonts.time_feature import get_lags_for_frequency

    lags: set[int] = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pandas' deprecated 'Q', 'M', 'H', 'T', 'S' aliases
        for freq in LAG_FREQUENCIES:
            lags.update(get_lags_for_frequency(freq, num_default_lags=1))
    return tuple(sorted(lag - 1 for lag in lags))


def _find_multiple(n: int, k: int) -> int:
    return n if n % k == 0 else n + k - (n % k)


@dataclass(frozen=True)
class LagLlamaConfig:
    """Architecture of the released checkpoint (time-series-foundation-models/Lag-Llama)."""

    context_length: int = 32
    n_layer: int = 8
    n_head: int = 9
    n_embd_per_head: int = 16
    lags_seq: tuple[int, ...] = field(default_factory=default_lags)
    time_feat: bool = True
    scaling: str = "robust"
    distr_output: str = "student_t"
    input_size: int = 1
    rope_base: float = 10000.0
    dropout: float = 0.0
    norm_eps: float = 1e-5
    minimum_scale: float = 1e-10  # the published scaler's floor

    def __post_init__(self) -> None:
        object.__setattr__(self, "lags_seq", tuple(int(v) for v in self.lags_seq))
        for name in ("context_length", "n_layer", "n_head", "n_embd_per_head", "input_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.n_embd_per_head % 2:
            raise ValueError(f"n_embd_per_head must be even for rotary embeddings, got {self.n_embd_per_head}")
        if self.input_size != 1:
            raise ValueError("only univariate input (input_size 1) is supported")
        lags = self.lags_seq
        if not lags or any(v < 0 for v in lags) or list(lags) != sorted(set(lags)):
            raise ValueError("lags_seq must be non-empty, non-negative, strictly increasing")
        if self.scaling not in SUPPORTED_SCALING:
            raise ValueError(f"scaling must be one of {SUPPORTED_SCALING}, got {self.scaling!r}")
        if self.distr_output != "student_t":
            raise ValueError(f"only the Student-t output is supported, got {self.distr_output!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not (self.rope_base > 0 and self.norm_eps > 0 and self.minimum_scale > 0):
            raise ValueError("rope_base, norm_eps and minimum_scale must be positive")

    @property
    def n_embd(self) -> int:
        return self.n_head * self.n_embd_per_head

    @property
    def max_lag(self) -> int:
        return max(self.lags_seq)

    @property
    def history_length(self) -> int:
        """Past values one forecast needs: the context plus the largest lag."""
        return self.context_length + self.max_lag

    @property
    def feature_size(self) -> int:
        """Token width: lags + 2 scale features (log1p|loc|, log scale) + time features."""
        return self.input_size * len(self.lags_seq) + 2 * self.input_size + (NUM_TIME_FEATURES if self.time_feat else 0)

    @property
    def mlp_hidden(self) -> int:
        return _find_multiple(int(2 * 4 * self.n_embd / 3), 256)

    def replace(self, **changes: Any) -> "LagLlamaConfig":
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return LagLlamaConfig(**values)

    @classmethod
    def from_model_kwargs(cls, kwargs: dict[str, Any]) -> "LagLlamaConfig":
        """From the checkpoint's hyper_parameters['model_kwargs'] (the estimator's names)."""
        mapping = {}
        for name in ("context_length", "n_layer", "n_head", "n_embd_per_head", "input_size", "dropout", "scaling"):
            if kwargs.get(name) is not None:
                mapping[name] = kwargs[name]
        if kwargs.get("lags_seq") is not None:
            mapping["lags_seq"] = tuple(kwargs["lags_seq"])
        if "time_feat" in kwargs:
            mapping["time_feat"] = bool(kwargs["time_feat"])
        if kwargs.get("rope_scaling") is not None:
            raise ValueError(f"rope scaling {kwargs['rope_scaling']!r} is not supported")
        distr = kwargs.get("distr_output")
        if distr is not None and type(distr).__name__ != "StudentTOutput":
            raise ValueError(f"checkpoint uses {type(distr).__name__}; only StudentTOutput is supported")
        return cls(**mapping)
