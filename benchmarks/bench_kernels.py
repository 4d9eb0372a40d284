"""The CPU figures behind the kernel choices in `jobs/torch_models/dropout.py`, on this machine.

Each of those choices is a measured threshold, and the figures depend on the CPU (its vector
width above all), so this script re-measures them:

* softmax: torch's softmax against `softmax_rows`' whole-tensor passes, forward and backward, per
  row length. The crossover should sit at `SHORT_ROW` (16 with AVX-512, 8 with AVX2).
* attention: fused SDPA against the written-out form per shape, in eval and forward + backward,
  beside what `writes_out` picks there (`attend`'s choice). One rule serves eval and training,
  so where they disagree (many scores) it cannot pick the faster form for both.
* words: torch's `random_` against numpy's PCG64DXSM per word count, around `NUMPY_MIN_WORDS`.
* masks: `keep_multiplier` (16-bit lanes) against torch's `bernoulli_` per element count.

Every figure is the median of --repeats timed calls after warm-up calls, in milliseconds.

    PYTHONPATH=. OMP_NUM_THREADS=2 python benchmarks/bench_kernels.py [--threads 2] [--repeats 30]
        [--sections softmax,attention,words,masks]
"""

import argparse
import math
import os
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from jobs.torch_models import dropout as kernels

SECTIONS = ("softmax", "attention", "words", "masks")


def median_ms(repeats: int, call, *args) -> float:
    """Median milliseconds of call(*args) over `repeats` timed calls, after three untimed ones."""
    for _ in range(3):
        call(*args)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call(*args)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def softmax_section(repeats: int) -> None:
    """1.28M scores at each row length (PatchTST trains on 1.28M: 1600 series x 8 heads x 10 x 10)."""
    print(f"## softmax over rows, 1.28M elements; SHORT_ROW here = {kernels.SHORT_ROW}")
    print("row  torch fwd  passes fwd  torch bwd  passes bwd")
    for length in (2, 4, 7, 10, 15, 16, 20, 25, 32):
        x = torch.randn(1_280_000 // length, length, requires_grad=True)
        grad = torch.randn_like(x)
        row = [median_ms(repeats, torch.softmax, x, -1), median_ms(repeats, kernels._ShortRowSoftmax.apply, x)]
        for y in (x.softmax(-1), kernels._ShortRowSoftmax.apply(x)):
            row.append(median_ms(repeats, torch.autograd.grad, y, x, grad, True))  # retain_graph=True
        print(f"{length:>3}  " + "  ".join(f"{ms:>9.2f}" for ms in row))


def written_out(q, k, v):
    scores = torch.matmul(q, k.transpose(-2, -1)).mul_(1.0 / math.sqrt(q.shape[-1]))
    return torch.matmul(kernels.softmax_rows(scores), v)


def forward_backward(attention, q, k, v, upstream):
    torch.autograd.grad(attention(q, k, v), (q, k, v), upstream)


def attention_section(repeats: int) -> None:
    """Self-attention without dropout, 8 heads of 16; q, k, v in the (batch, heads, length, 16)
    layout `project_heads` gives (a permuted view, as in the models). `attend` column: what
    `writes_out` picks for that shape, to compare with the faster of the two."""
    print(
        f"\n## attention without dropout, SDPA / written out (ratio > 1: written out is faster); SHORT_ROW "
        f"{kernels.SHORT_ROW}, WRITTEN_OUT_MAX_SCORES {kernels.WRITTEN_OUT_MAX_SCORES:,}"
    )
    print(" batch  keys     scores        eval sdpa / written  ratio    fwd+bwd sdpa / written  ratio  attend")
    for batch, keys in ATTENTION_SHAPES:
        q, k, v = (torch.randn(batch, keys, 8, 16).transpose(1, 2).requires_grad_() for _ in range(3))
        upstream = torch.randn(batch, 8, keys, 16)
        with torch.no_grad():
            error = (written_out(q, k, v) - F.scaled_dot_product_attention(q, k, v)).abs().max().item()
            assert error < 1e-4, f"the written-out form differs from SDPA by {error}"
            sdpa, manual = (median_ms(repeats, f, q, k, v) for f in (F.scaled_dot_product_attention, written_out))
        sdpa_fb, manual_fb = (
            median_ms(repeats, forward_backward, f, q, k, v, upstream)
            for f in (F.scaled_dot_product_attention, written_out)
        )
        pick = "written" if kernels.writes_out(q, k, drop=False, causal=False) else "sdpa"
        print(
            f"{batch:>6}  {keys:>4}  {batch * 8 * keys * keys:>10,}  {sdpa:>14.2f} / {manual:>7.2f}  {sdpa / manual:>5.2f}"
            f"  {sdpa_fb:>17.2f} / {manual_fb:>7.2f}  {sdpa_fb / manual_fb:>5.2f}  {pick}"
        )


# (batch, keys): short rows, whole vectors, small and large remainders, and scores past the limit.
ATTENTION_SHAPES = [
    (64, 7),
    (1600, 10),
    (64, 16),
    (64, 18),
    (64, 20),
    (64, 25),
    (188, 25),
    (448, 25),
    (64, 31),
    (64, 32),
    (64, 40),
    (47, 50),
    (32, 60),
    (64, 80),
    (11, 100),
]


def torch_words(n: int):
    return torch.empty(n, dtype=torch.int64).random_(-(2**63), 2**63 - 1)


def numpy_words(n: int):
    return torch.from_numpy(np.random.PCG64DXSM(n).random_raw(n).view(np.int64))


def words_section(repeats: int) -> None:
    print(f"\n## 64-bit mask words; NUMPY_MIN_WORDS here = {kernels.NUMPY_MIN_WORDS}")
    print("    words   torch random_   numpy PCG64DXSM")
    for n in (1_000, 4_000, 8_192, 30_000, 300_000, 1_000_000):
        torch_ms = median_ms(repeats, torch_words, n)
        numpy_ms = median_ms(repeats, numpy_words, n)
        print(f"{n:>9}  {torch_ms:>14.3f}  {numpy_ms:>16.3f}")


def bernoulli_multiplier(x, p: float):
    return torch.empty_like(x).bernoulli_(1.0 - p).div_(1.0 - p)


def masks_section(repeats: int) -> None:
    print("\n## dropout masks, p = 0.1")
    print(" elements   keep_multiplier   bernoulli_ (nn.Dropout's source)")
    for n in (10_000, 300_000, 1_430_000, 4_600_000):
        x = torch.empty(n)
        ours = median_ms(repeats, kernels.keep_multiplier, x, 0.1)
        native = median_ms(repeats, bernoulli_multiplier, x, 0.1)
        print(f"{n:>9}  {ours:>16.3f}  {native:>12.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS") or 2))
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per figure (the median is printed)")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma list of {', '.join(SECTIONS)}")
    args = parser.parse_args()
    chosen = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown or not chosen:
        parser.error(f"--sections: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(SECTIONS)}")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    torch.set_num_threads(args.threads)
    print(
        f"# bench_kernels: torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}, "
        f"{args.threads} thread(s), median of {args.repeats}, ms"
    )
    sections = {
        "softmax": softmax_section,
        "attention": attention_section,
        "words": words_section,
        "masks": masks_section,
    }
    for name in chosen:
        sections[name](args.repeats)


if __name__ == "__main__":
    main()
