"""Lag-Llama CPU throughput: sampling windows/s (100 sample paths, H steps) with and without the
KV cache, and the fine-tune step time. Random-init weights of the released architecture; the
speed does not depend on the weights' values. Also the effect of the published sampler's scaler
re-fit at every step (`rescale_each_step`) on P(hit), same uniforms: with random-init weights
this measures the mechanism only, not the published model's sensitivity.

    PYTHONPATH=. python benchmarks/bench_lagllama.py [--threads 1] [--horizon 3] [--windows 32]
"""

import argparse
import time

import numpy as np
import pandas as pd
import torch

from jobs.lagllama.config import LagLlamaConfig
from jobs.lagllama.data import SeriesData
from jobs.lagllama.finetune import sequence_nll
from jobs.lagllama.model import LagLlamaModule
from jobs.lagllama.sampling import draw_uniforms, hit_probability, sample_paths


def synthetic_frame(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 1000 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    high = close * (1 + np.abs(rng.normal(0, 0.005, n)))
    return pd.DataFrame({"date": pd.bdate_range("2000-01-03", periods=n).date, "high": high, "close": close})


def time_sampling(model, series, rows, horizon, samples, use_cache, batch_size) -> float:
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(0)
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        u = draw_uniforms(len(chunk), samples, horizon, generator)
        sample_paths(model, series.forecast_batch(chunk, horizon), horizon, uniforms=u, use_cache=use_cache)
    return time.perf_counter() - started


def refit_effect(model, frame, series, rows, horizon, samples) -> np.ndarray:
    """|P(hit) with the per-step re-fit - P(hit) fitted once| per window, on identical uniforms."""
    u = draw_uniforms(len(rows), samples, horizon, torch.Generator().manual_seed(1))
    batch = series.forecast_batch(rows, horizon)
    level = torch.from_numpy(1.01 * frame["close"].to_numpy()[rows])
    once = hit_probability(sample_paths(model, batch, horizon, uniforms=u, use_cache=False).paths.double(), level)
    refit = hit_probability(
        sample_paths(model, batch, horizon, uniforms=u, use_cache=False, rescale_each_step=True).paths.double(), level
    )
    return (refit - once).abs().numpy()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--horizon", type=int, default=3)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--windows", type=int, default=32, help="windows timed with the KV cache")
    parser.add_argument("--uncached-windows", type=int, default=4, help="windows timed without it (slow)")
    parser.add_argument("--batch-size", type=int, default=32, help="windows per sampling batch")
    parser.add_argument("--finetune-steps", type=int, default=5)
    parser.add_argument("--finetune-batch", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = LagLlamaConfig()
    model = LagLlamaModule(config).model.eval()
    frame = synthetic_frame()
    series = SeriesData.build(frame, config, "high")
    rows = np.arange(2000, 2000 + args.windows)
    print(
        f"Lag-Llama (released config, {sum(p.numel() for p in model.parameters()):,} params), CPU, "
        f"{args.threads} thread(s), horizon {args.horizon}, {args.samples} sample paths per window"
    )
    time_sampling(model, series, rows[:2], args.horizon, args.samples, True, args.batch_size)  # warm-up
    cached = time_sampling(model, series, rows, args.horizon, args.samples, True, args.batch_size)
    uncached = time_sampling(
        model, series, rows[: args.uncached_windows], args.horizon, args.samples, False, args.batch_size
    )
    rate_c, rate_u = args.windows / cached, args.uncached_windows / uncached
    print(f"sampling with KV cache:    {rate_c:8.2f} windows/s ({args.windows} windows in {cached:.2f}s)")
    print(f"sampling without KV cache: {rate_u:8.2f} windows/s ({args.uncached_windows} windows in {uncached:.2f}s)")
    print(f"KV-cache speed-up:         {rate_c / rate_u:8.1f}x")
    effect = refit_effect(model, frame, series, rows[: args.uncached_windows], args.horizon, args.samples)
    print(
        f"per-step scaler re-fit (published) vs fitted once, |delta P(hit)| over {len(effect)} windows "
        f"(random-init weights): max {effect.max():.4f}, mean {effect.mean():.4f}"
    )

    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4)
    train_rows = np.arange(1200, 2800)
    rng = np.random.default_rng(0)
    times = []
    for step in range(args.finetune_steps + 1):
        chunk = np.sort(rng.choice(train_rows, args.finetune_batch, replace=False))
        started = time.perf_counter()
        batch, targets = series.training_batch(chunk)
        loss = sequence_nll(model, batch, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step:  # the first step is warm-up
            times.append(time.perf_counter() - started)
    print(
        f"fine-tune step (batch {args.finetune_batch}, context {config.context_length}): "
        f"{np.mean(times) * 1000:8.1f} ms/step (mean of {len(times)})"
    )


if __name__ == "__main__":
    main()
