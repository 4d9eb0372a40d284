"""The predictions.parquet contract: one row per validation/test sample, comparable across models.

Callers holding a pyarrow table validate it with
`PredictionsFile.model_validate({"dtypes": {f.name: str(f.type) for f in t.schema}, **t.to_pydict()})`.
"""

import datetime as dt
from typing import Literal

from pydantic import model_validator

from shared_schema.base import Probability, StrictModel

# Column -> Arrow type name, in file order.
PREDICTION_DTYPES: dict[str, str] = {
    "date": "date32[day]",
    "split": "string",
    "y_true": "int8",
    "p": "double",
}


class PredictionsFile(StrictModel):
    dtypes: dict[str, str]
    date: list[dt.date]
    split: list[Literal["val", "test"]]
    y_true: list[Literal[0, 1]]
    p: list[Probability]

    @model_validator(mode="after")
    def _consistent(self) -> "PredictionsFile":
        if self.dtypes != PREDICTION_DTYPES:
            raise ValueError(f"columns/dtypes {self.dtypes} differ from contract {PREDICTION_DTYPES}")
        n = len(self.date)
        if not (len(self.split) == len(self.y_true) == len(self.p) == n) or n == 0:
            raise ValueError("columns must be non-empty and of equal length")
        for name in ("val", "test"):
            if name not in self.split:
                raise ValueError(f"no rows for split {name!r}")
        seen = set()
        for d, s in zip(self.date, self.split):
            if (d, s) in seen:
                raise ValueError(f"duplicate prediction for {d} in {s}")
            seen.add((d, s))
        return self
