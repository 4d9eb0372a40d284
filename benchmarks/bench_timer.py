"""CPU throughput of Timer at the published timer-base-84m shape (random weights: speed does not
depend on their values): zero-shot forecast windows/s (the job's point-score pass, one forward per
96-day output patch) and fine-tuning windows/s (next-patch MSE, forward + backward + AdamW step).

    PYTHONPATH=. python benchmarks/bench_timer.py [--lookback-patches 7] [--horizon 3]
        [--batch-size 32] [--batches 3] [--threads 1]

ARMA-Attention and PatchTST 200M train through the shared trainer, so their figures come from
benchmarks/bench_torch.py (`--models armattn --size 100000`, `--models patchtst-200m --size 200000000`).
"""

import argparse
import json
import time

import torch

from jobs.timer.model import TimerConfig, TimerForPrediction, ar_loss, forecast


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookback-patches", type=int, default=7)
    parser.add_argument("--horizon", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = TimerConfig()
    model = TimerForPrediction(config)
    length = args.lookback_patches * config.input_token_len
    series = torch.randn(args.batch_size, length).cumsum(-1) * 0.01

    model.eval()
    forecast(model, series, args.horizon)  # warm-up
    started = time.perf_counter()
    for _ in range(args.batches):
        forecast(model, series, args.horizon)
    zero_shot = args.batches * args.batch_size / (time.perf_counter() - started)

    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-5)
    segments = torch.randn(args.batch_size, length + config.input_token_len).cumsum(-1) * 0.01

    def step() -> None:
        optimiser.zero_grad(set_to_none=True)
        ar_loss(model, segments).backward()
        optimiser.step()

    step()  # warm-up (allocates the AdamW state)
    started = time.perf_counter()
    for _ in range(args.batches):
        step()
    fine_tune = args.batches * args.batch_size / (time.perf_counter() - started)

    print(
        json.dumps(
            {
                "model": "timer-base-84m shape",
                "parameters": sum(p.numel() for p in model.parameters()),
                "lookback_days": length,
                "horizon": args.horizon,
                "batch_size": args.batch_size,
                "threads": args.threads,
                "zero_shot_windows_per_s": round(zero_shot, 2),
                "fine_tune_windows_per_s": round(fine_tune, 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
