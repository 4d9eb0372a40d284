"""Model name -> architecture: the one table the job, the benchmark and the tests dispatch on."""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn

from jobs.torch_models.armattn import ARMAttention, ARMAttentionConfig
from jobs.torch_models.autoformer import Autoformer, AutoformerConfig
from jobs.torch_models.crossformer import Crossformer, CrossformerConfig
from jobs.torch_models.dlinear import DLinear, DLinearConfig
from jobs.torch_models.etsformer import ETSformer, ETSformerConfig
from jobs.torch_models.fedformer import FEDformer, FEDformerConfig
from jobs.torch_models.informer import Informer, InformerConfig
from jobs.torch_models.itransformer import ITransformer, ITransformerConfig
from jobs.torch_models.patchtst import PatchTST, PatchTSTConfig
from jobs.torch_models.timemixer import TimeMixer, TimeMixerConfig

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
            f.name: f.default for f in dataclasses.fields(self.config)
            if f.name not in DERIVED_FIELDS and f.name not in self.fixed
        }

    def make_config(self, **settings):
        return self.config(**settings, **self.fixed)

    def count_parameters(self, config) -> int:
        """Exact parameter count without allocating memory (modules built on the meta device)."""
        with torch.device("meta"):
            model = self.model(config)
        return sum(p.numel() for p in model.parameters())


ARCHITECTURES: dict[str, Architecture] = {
    "patchtst": Architecture(PatchTSTConfig, PatchTST),
    "patchtst-causal": Architecture(PatchTSTConfig, PatchTST, {"causal": True, "pool": "last"}),
    "patchtst-high": Architecture(PatchTSTConfig, PatchTST),  # same model; sees only the High input (its catalog entry sets inputs=high)
    "itransformer": Architecture(ITransformerConfig, ITransformer),
    "timemixer": Architecture(TimeMixerConfig, TimeMixer),
    "informer": Architecture(InformerConfig, Informer),
    "autoformer": Architecture(AutoformerConfig, Autoformer),
    "fedformer": Architecture(FEDformerConfig, FEDformer),
    "etsformer": Architecture(ETSformerConfig, ETSformer),
    "crossformer": Architecture(CrossformerConfig, Crossformer),
    "dlinear": Architecture(DLinearConfig, DLinear),
    "armattn": Architecture(ARMAttentionConfig, ARMAttention),
    "patchtst-200m": Architecture(PatchTSTConfig, PatchTST),  # same model; only its size default differs
}
