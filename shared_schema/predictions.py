"""The predictions.parquet contract: one row per validation/test sample, comparable across models.

Callers holding a pyarrow table validate it with
`PredictionsFile.model_validate(shared_schema.outputs.predictions_payload(table))`.

`point_score` (nullable) is the point-forecast arm of the same run on the same window, for models
that have one (Lag-Llama's median path, TimesFM's mean head, Timer's forecast): the forecast max of
log(High / Close_t) over the horizon minus log(1 + threshold), higher = more likely a hit. It is
null for models without a point forecast. Files written before the column existed (the first four
columns only) stay valid and read as all-null.
"""

import datetime as dt
from typing import Literal

from pydantic import model_validator

from shared_schema.base import FiniteFloat, Probability, StrictModel

# Column -> Arrow type name, in file order.
PREDICTION_DTYPES: dict[str, str] = {
    "date": "date32[day]",
    "split": "string",
    "y_true": "int8",
    "p": "double",
    "point_score": "double",
}
LEGACY_PREDICTION_DTYPES: dict[str, str] = {k: v for k, v in PREDICTION_DTYPES.items() if k != "point_score"}


class PredictionsFile(StrictModel):
    dtypes: dict[str, str]
    date: list[dt.date]
    split: list[Literal["val", "test"]]
    y_true: list[Literal[0, 1]]
    p: list[Probability]
    point_score: list[FiniteFloat | None] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "PredictionsFile":
        if self.dtypes not in (PREDICTION_DTYPES, LEGACY_PREDICTION_DTYPES):
            raise ValueError(f"columns/dtypes {self.dtypes} differ from contract {PREDICTION_DTYPES}")
        if (self.point_score is None) != ("point_score" not in self.dtypes):
            raise ValueError("point_score values and the point_score column must come together")
        n = len(self.date)
        if not (len(self.split) == len(self.y_true) == len(self.p) == n) or n == 0:
            raise ValueError("columns must be non-empty and of equal length")
        if self.point_score is not None and len(self.point_score) != n:
            raise ValueError("point_score must have one value (or null) per row")
        for name in ("val", "test"):
            if name not in self.split:
                raise ValueError(f"no rows for split {name!r}")
        seen = set()
        for d, s in zip(self.date, self.split):
            if (d, s) in seen:
                raise ValueError(f"duplicate prediction for {d} in {s}")
            seen.add((d, s))
        return self
