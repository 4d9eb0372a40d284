"""A job's settings from its spec: the one resolution of the catalog, as a frozen dataclass.

Each job declares its settings as a frozen dataclass whose fields are its hyper-parameters, and
inherits `SpecSettings` for the constructor: `Model.resolve` (jobs/catalog.py) checks the spec's
values against the model's declaration and fills the profile's defaults, so a job never reads a
hyper-parameter the catalog does not declare. List values (e.g. `probe_l2`) become tuples, so the
settings stay immutable.
"""

from typing import Self

from jobs.catalog import BY_NAME
from shared_schema import ExperimentSpec


class SpecSettings:
    @classmethod
    def from_spec(cls, spec: ExperimentSpec) -> Self:
        values = BY_NAME[spec.model].resolve(spec)
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in values.items()})
