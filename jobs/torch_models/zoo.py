"""Model name -> architecture, from the model catalog: the table the job, the benchmark and the tests dispatch on."""

import dataclasses
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from jobs.catalog import MODELS, TorchArchitecture

# Set by the size search or by the data, never by a user's hyper-parameters.
DERIVED_FIELDS = frozenset({"context_length", "n_features", "d_model", "d_ff", "n_layers", "n_heads"})


@dataclass(frozen=True)
class Architecture:
    config: type
    model: type[nn.Module]
    # Settings that make this entry a variant of another (the causal PatchTST control).
    fixed: Mapping[str, object] = field(default_factory=dict)

    def tunable(self) -> dict[str, object]:
        """Config fields a spec may set through its hyper-parameters, with their defaults."""
        return {
            f.name: f.default
            for f in dataclasses.fields(self.config)
            if f.name not in DERIVED_FIELDS and f.name not in self.fixed
        }

    def make_config(self, **settings):
        return self.config(**settings, **self.fixed)

    def count_parameters(self, config) -> int:
        """Exact parameter count without allocating memory (modules built on the meta device)."""
        with torch.device("meta"):
            model = self.model(config)
        return sum(p.numel() for p in model.parameters())


def load_architecture(where: TorchArchitecture) -> Architecture:
    module = importlib.import_module(where.module)
    return Architecture(getattr(module, where.config_class), getattr(module, where.model_class), dict(where.fixed))


# Every catalog model with a torch architecture (jobs/catalog.py names its module and classes).
ARCHITECTURES: dict[str, Architecture] = {m.name: load_architecture(m.architecture) for m in MODELS if m.architecture}
