"""Strict base model and the constrained number types every schema uses."""

import json
from pathlib import Path
from typing import Annotated, Literal, TypeVar

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
# Every job environment, one images/<env>/ folder each; orchestrator/environments.py says what each
# runs (a test checks the two list the same names). Adding an env: a name here and an entry there.
ENV_NAMES = ("sklearn", "torch", "gluonts", "timesfm", "chronos", "tirex", "granite")
EnvName = Literal[ENV_NAMES]


class StrictModel(BaseModel):
    """Unknown fields are an error and instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


ERROR_CHARS = 300  # how much of a validation error a one-line reason keeps
_M = TypeVar("_M", bound=BaseModel)


def one_line(exc: Exception) -> str:
    """A validation error folded onto one line, cut to ERROR_CHARS: reasons are one line everywhere."""
    return " ".join(str(exc).split())[:ERROR_CHARS]


def read_json_model(model: type[_M], path: Path) -> _M:
    """`model` validated from the JSON file at `path`; ValueError with a one-line reason when the
    file cannot be read, is not JSON, or is not a valid `model`."""
    try:
        return model.model_validate(json.loads(Path(path).read_text()))
    except (OSError, ValueError) as exc:
        raise ValueError(one_line(exc)) from exc
