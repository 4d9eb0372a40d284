"""Strict base model and the constrained number types every schema uses."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# Bump when a model changes incompatibly; readers reject other versions by name.
SCHEMA_VERSION = 1

SchemaVersion = Literal[1]

# Finite floats only: NaN and inf are rejected everywhere.
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
NonNegFloat = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
SplitName = Literal["train", "val", "test"]
EnvName = Literal["sklearn", "torch", "gluonts", "timesfm"]


class StrictModel(BaseModel):
    """Unknown fields are an error and instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)
