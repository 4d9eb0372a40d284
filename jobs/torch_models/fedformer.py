"""FEDformer (Zhou et al., 2022), encoder only: Autoformer's decomposition encoder with a
frequency-enhanced block as the mixer: project, FFT along time, keep a few Fourier modes and
multiply each by a learned complex matrix per head (in real arithmetic: `FourierBlock.mix_modes`),
inverse FFT.

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
        mixed = self.mix_modes(spectrum)
        unused = spectrum.new_zeros(batch, length // 2 + 1 - self.modes, self.n_heads, mixed.shape[-1])
        series = torch.fft.irfft(torch.cat([mixed, unused], dim=1), n=length, dim=1)
        return self.out(series.reshape(batch, length, width).to(x.dtype))

    def mix_modes(self, spectrum: Tensor) -> Tensor:
        """(batch, mode, head, i) complex -> (batch, mode, head, o): each mode times its complex
        (i, o) matrix, in real arithmetic: (a + ib)(c + id) = (ac - bd) + i(ad + bc), one real
        product of [a, b] with the block matrix [[c, d], [-d, c]]. The complex product's backward
        multiplies by conjugated complex views, which MPS's batched complex matmul has got wrong
        (pytorch#177474); a real product has no conjugate to mishandle."""
        c, d = self.mode_weights.unbind(-1)  # (head, i, o, mode) each
        block = torch.stack([torch.stack([c, d], dim=3), torch.stack([-d, c], dim=3)], dim=2)  # (h, i, 2, o, 2, m)
        mixed = torch.einsum("bmhir,hirosm->bmhos", torch.view_as_real(spectrum), block)
        return torch.view_as_complex(mixed.contiguous())


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
