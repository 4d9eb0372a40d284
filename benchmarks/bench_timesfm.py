"""TimesFM 2.5 (flax) on this machine: zero-shot windows/s, one fine-tuning step, peak memory.

    PYTHONPATH=. /tmp/venv-timesfm/bin/python benchmarks/bench_timesfm.py [--arch 200m|small]
        [--windows 64] [--batch 32] [--context 80] [--horizon 3] [--weights DIR]

Runs inside the timesfm environment. Without --weights a random-initialised checkpoint of the
chosen architecture is written to a temporary folder (the numbers do not depend on the values).
Windows are synthetic random walks of `--context` steps. Peak memory is the process's maximum
resident set size after each phase (monotone: it includes everything before it).
"""

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SMALL_ARCH = {"model_dims": 64, "num_layers": 2, "num_heads": 4}


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", choices=("200m", "small"), default="200m")
    parser.add_argument("--windows", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--context", type=int, default=80)
    parser.add_argument("--horizon", type=int, default=3)
    parser.add_argument("--no-flip", action="store_true", help="zero-shot without the flip-invariance pass")
    parser.add_argument("--finetune-params", choices=("all", "heads"), default="all")
    parser.add_argument("--weights", type=Path, default=None)
    args = parser.parse_args()

    import jax

    from jobs.timesfm import model as tfm_model
    from jobs.timesfm.finetune import make_trainer
    from jobs.timesfm.weights import resolve_weights

    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform}; arch={args.arch} windows={args.windows} "
        f"batch={args.batch} context={args.context} horizon={args.horizon}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        weights_dir = args.weights
        if weights_dir is None:
            started = time.perf_counter()
            weights_dir = Path(tmp)
            tfm_model.save_random_init(weights_dir, None if args.arch == "200m" else SMALL_ARCH)
            print(f"random-init checkpoint written in {time.perf_counter() - started:.1f}s")
        started = time.perf_counter()
        wrapper = tfm_model.load_model(resolve_weights(weights_dir))
        print(
            f"load (sha256 check + from_pretrained): {time.perf_counter() - started:.1f}s, "
            f"{tfm_model.count_parameters(wrapper.model) / 1e6:.1f}M parameters, peak RSS {peak_gib():.2f} GiB"
        )

        rng = np.random.default_rng(0)
        contexts = np.cumsum(rng.normal(0, 0.01, size=(args.windows, args.context)), axis=1) + 7.0
        fc = tfm_model.forecast_config(args.context, use_flip=not args.no_flip)
        import dataclasses

        wrapper.compile(dataclasses.replace(fc, per_core_batch_size=args.batch), dryrun=False)
        started = time.perf_counter()
        wrapper.forecast(horizon=args.horizon, inputs=[c for c in contexts[: args.batch]])  # compile + 1 batch
        compile_s = time.perf_counter() - started
        started = time.perf_counter()
        _, q = wrapper.forecast(horizon=args.horizon, inputs=[c for c in contexts])
        elapsed = time.perf_counter() - started
        assert q.shape == (args.windows, args.horizon, 10)
        print(
            f"zero-shot: {args.windows / elapsed:.1f} windows/s ({elapsed:.2f}s for {args.windows}; first batch "
            f"incl. compile {compile_s:.1f}s; flip={'off' if args.no_flip else 'on'}), peak RSS {peak_gib():.2f} GiB"
        )

        trainer = make_trainer(wrapper.model, args.horizon, 1e-4, args.finetune_params)
        values, masks = tfm_model.pad_left(contexts[: args.batch].astype(np.float32))
        future = contexts[: args.batch, -1:] + rng.normal(0, 0.01, size=(args.batch, args.horizon))
        future = future.astype(np.float32)
        state = (trainer.trainable, trainer.opt_state)
        times = []
        for _ in range(3):
            started = time.perf_counter()
            trainable, opt_state, loss = trainer.step(state[0], trainer.rest, state[1], values, masks, future)
            jax.block_until_ready(loss)
            times.append(time.perf_counter() - started)
            state = (trainable, opt_state)
        print(
            f"fine-tune step ({args.finetune_params}, {trainer.n_trainable / 1e6:.1f}M trainable, batch {args.batch}): "
            f"{min(times[1:]):.2f}s/step (first incl. compile {times[0]:.1f}s), loss {float(loss):.4f}, "
            f"peak RSS {peak_gib():.2f} GiB"
        )


if __name__ == "__main__":
    main()
