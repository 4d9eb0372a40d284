"""Hyper-parameter types and bounds, and the check both sides run against a model's declaration.

Every model declares its hyper-parameters once, in the model catalog (jobs/catalog.py), with the
`Param`s below; `jobs.catalog.Model.resolve` is the one resolution of a spec's values (every job, and
the host's check of `orch run --set KEY=VALUE` before planning), so a mistyped key or an impossible
value is a one-line error instead of a silently ignored setting or a crash inside the job.
Standard library only: the host imports it without any ML stack. Cross-field rules (stride <=
patch_len, ...) stay in the config classes, which know the data's shape.
"""

import math
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from difflib import get_close_matches

from jobs.common.errors import JobError

MAX_SHOWN = 60  # characters of a key or value quoted in a message


BOUNDS = (
    ("low", ">=", operator.ge),
    ("high", "<=", operator.le),
    ("above", ">", operator.gt),
    ("below", "<", operator.lt),
)


class HyperparameterError(JobError, ValueError):
    """A key or value a model does not accept; the message is one line (inside a job it is a
    JobError, reported like any other; the host turns it into a UserError)."""


class UnknownHyperparameter(HyperparameterError):
    """A key the model does not have (as opposed to a bad value for a key it has)."""


def shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}... ({len(text)} characters)"


@dataclass(frozen=True)
class Param:
    kind: str  # "int" | "float" | "bool" | "choice" | "floats" (a list of floats; one float is a list of one)
    low: float | None = None  # inclusive bounds
    high: float | None = None
    above: float | None = None  # exclusive bounds
    below: float | None = None
    options: tuple[str, ...] = ()
    odd: bool = False
    nullable: bool = False

    def check(self, key: str, value: object) -> object:
        """The value in its canonical type (2e6 -> 2000000 for an int), or HyperparameterError."""
        if value is None and self.nullable:
            return None
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise HyperparameterError(f"hyperparameter {key!r} must be true or false, got {shown(value)}")
            return value
        if self.kind == "choice":
            if value not in self.options:
                raise HyperparameterError(
                    f"hyperparameter {key!r} must be one of {list(self.options)}, got {shown(value)}"
                )
            return value
        if self.kind == "floats":
            items = value if isinstance(value, list) else [value]
            if not 1 <= len(items) <= 64:
                raise HyperparameterError(f"hyperparameter {key!r} must list 1 to 64 numbers, got {len(items)}")
            return [self._number(key, item, whole=False) for item in items]
        return self._number(key, value, whole=self.kind == "int")

    def _number(self, key: str, value: object, whole: bool) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise HyperparameterError(f"hyperparameter {key!r} must be a number, got {shown(value)}")
        given = value
        if not whole and isinstance(value, int):
            value = float(value) if abs(value) < 2**1023 else math.inf
        if isinstance(value, float) and not math.isfinite(value):
            raise HyperparameterError(f"hyperparameter {key!r} must be a finite number, got {shown(given)}")
        if whole:
            if value != int(value):
                raise HyperparameterError(f"hyperparameter {key!r} must be a whole number, got {shown(given)}")
            value = int(value)
        for name, sign, holds in BOUNDS:
            bound = getattr(self, name)
            if bound is not None and not holds(value, bound):
                raise HyperparameterError(f"hyperparameter {key!r} must be {sign} {bound:g}, got {shown(given)}")
        if self.odd and value % 2 != 1:
            raise HyperparameterError(f"hyperparameter {key!r} must be odd, got {shown(given)}")
        return value


def whole(low: int, high: int, odd: bool = False) -> Param:
    return Param("int", low=low, high=high, odd=odd)


def real(
    low: float | None = None, high: float | None = None, above: float | None = None, below: float | None = None
) -> Param:
    return Param("float", low=low, high=high, above=above, below=below)


def flag(nullable: bool = False) -> Param:
    return Param("bool", nullable=nullable)


def choice(*options: str) -> Param:
    return Param("choice", options=options)


BIG = 10**9  # ceiling for counts (windows, parameters): no real run comes near it
LENGTH = 4096  # ceiling for lengths within a context window (the spec's context_length maximum)
BATCH = 65536
STEPS = 10**6


def check_declared(model: str, declared: Mapping[str, Param], values: Mapping[str, object]) -> dict[str, object]:
    """`values` with every key in `model`'s declaration and every value in its canonical type and
    bounds (called through `jobs.catalog.Model.check`, which holds the declaration)."""
    unknown = [key for key in values if key not in declared]
    if unknown:
        key = unknown[0]
        hint = [k for k in declared if k.lower() == key.lower()] or get_close_matches(key, declared, n=1, cutoff=0.6)
        raise UnknownHyperparameter(
            f"unknown hyperparameter(s) [{', '.join(shown(k) for k in unknown[:3])}{', ...' if len(unknown) > 3 else ''}]"
            f" for {model}{f' (did you mean {hint[0]!r}?)' if hint else ''}; known: {', '.join(declared)}"
        )
    return {key: declared[key].check(key, value) for key, value in values.items()}
