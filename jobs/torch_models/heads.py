"""The one classification head every architecture ends in, so results differ by backbone only."""

from torch import Tensor, nn

from jobs.torch_models.kernels import Dropout
from jobs.torch_models.layers import Pool


class ClassificationHead(nn.Module):
    """Tokens -> one logit per sample.

    Pooling (never flattening) keeps the head at d_model + 1 weights whatever the context length
    or token count, so a model's size is spent in its backbone. `pool` reads the sequence axis:
    "mean" averages it, "last" takes its newest token (the causal read-out). Leading group axes
    (e.g. one sequence per input feature) are averaged after that.
    """

    def __init__(self, d_model: int, pool: Pool, dropout: float):
        super().__init__()
        self.pool = pool
        self.norm = nn.LayerNorm(d_model)
        self.dropout = Dropout(dropout)
        self.logit = nn.Linear(d_model, 1)

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens: (batch, *groups, sequence, d_model) -> logits (batch,)."""
        pooled = tokens.mean(dim=-2) if self.pool == "mean" else tokens[..., -1, :]
        pooled = pooled.reshape(pooled.shape[0], -1, pooled.shape[-1]).mean(dim=1)
        return self.score(pooled)

    def score(self, pooled: Tensor) -> Tensor:
        """Already pooled tokens (..., d_model) -> one logit each, for a model that averages
        several read-outs' logits (TimeMixer's per-scale predictions) in one call."""
        return self.logit(self.dropout(self.norm(pooled))).squeeze(-1)
