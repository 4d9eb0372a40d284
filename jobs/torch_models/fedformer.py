"""FEDformer (Zhou et al., 2022), encoder only: Autoformer's decomposition encoder with a
frequency-enhanced block as the mixer: project, FFT along time, keep a few Fourier modes and
multiply each by a learned complex matrix per head, inverse FFT.

Modes are the lowest frequencies (the paper's 'low' selection; its default draws them at random),
so a model is fully determined by its seed. The encoder (trends accumulated for the read-out) is
layers.DecompositionEncoder, shared with Autoformer.
"""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from jobs.torch_models.heads import ClassificationHead
from jobs.torch_models.layers import DecompositionEncoder, Pool, check, check_common


@dataclass(frozen=True)
class FEDformerConfig:
    context_length: int = 80
    n_features: int = 25
    d_model: int = 128
    n_heads: int = 8
    n_layers: int = 2
    d_ff: int = 256
    modes: int = 16
    moving_avg: int = 25
    dropout: float = 0.1
    pool: Pool = "last"  # tokens are time steps; the newest one is read out, as in the Autoformer file

    def __post_init__(self) -> None:
        check_common(self)
        check(
            self.moving_avg >= 1 and self.moving_avg % 2 == 1, f"moving_avg must be odd and >= 1, got {self.moving_avg}"
        )
        n_frequencies = self.context_length // 2 + 1
        check(
            1 <= self.modes <= n_frequencies,
            f"modes ({self.modes}) must be between 1 and the {n_frequencies} frequencies of context_length {self.context_length}",
        )


class FourierBlock(nn.Module):
    """Frequency-enhanced block: a learned linear map per head on each kept Fourier mode."""

    def __init__(self, d_model: int, n_heads: int, modes: int):
        super().__init__()
        self.n_heads = n_heads
        self.modes = modes
        head_width = d_model // n_heads
        self.project = nn.Linear(d_model, d_model)
        # Complex weights stored as (real, imaginary) pairs; the paper's uniform init, scaled.
        self.mode_weights = nn.Parameter(
            torch.rand(n_heads, head_width, head_width, modes, 2) / (head_width * head_width)
        )
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor) -> Tensor:
        batch, length, width = x.shape
        heads = self.project(x).view(batch, length, self.n_heads, -1).float()  # FFTs reject bf16
        spectrum = torch.fft.rfft(heads, dim=1)[:, : self.modes]
        mixed = torch.einsum("bmhi,hiom->bmho", spectrum, torch.view_as_complex(self.mode_weights))
        unused = spectrum.new_zeros(batch, length // 2 + 1 - self.modes, self.n_heads, mixed.shape[-1])
        series = torch.fft.irfft(torch.cat([mixed, unused], dim=1), n=length, dim=1)
        return self.out(series.reshape(batch, length, width).to(x.dtype))


class FEDformer(nn.Module):
    def __init__(self, config: FEDformerConfig):
        super().__init__()
        self.config = config
        mixers = [FourierBlock(config.d_model, config.n_heads, config.modes) for _ in range(config.n_layers)]
        self.encoder = DecompositionEncoder(
            mixers, config.n_features, config.d_model, config.d_ff, config.moving_avg, config.dropout
        )
        self.head = ClassificationHead(config.d_model, config.pool, config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x))
