"""Zero-shot P(hit) throughput of each 2026 foundation-model job beside the package's own pipeline
call a user would write (the anchor), on the same windows and threads, plus the quick-profile job's
wall time. Random weights at the published shape: speed does not depend on their values.

    python benchmarks/bench_foundation.py [--models chronos2] [--threads 2] [--windows 256]
        [--size base] [--no-quick-job] [--json]

The host part builds the bundled dataset once, then runs each model's worker in that model's own
environment (the native venv `orch` builds from images/<env>/requirements.txt) with OMP_NUM_THREADS
and torch threads set to --threads; each worker prints one JSON line. Both arms score the same
validation windows (the most recent --windows) and turn forecasts into P(hit) the same way
(jobs/common/quantiles.py), so the comparison is of the forecasting calls only; `max_p_difference`
shows the two agree. Both arms are warmed up, then timed alternately (best of 3 each), so a busy
machine's slow spells do not land on one arm only. Adding a model: a worker function and an entry in WORKERS.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


# -- workers: run inside the model's environment ----------------------------------------------------
def chronos2_worker(args: argparse.Namespace) -> dict:
    import numpy as np
    import torch
    from chronos import Chronos2Pipeline

    from jobs.chronos2.forecast import Forecaster
    from jobs.chronos2.weights import SIZES, load_pipeline, resolve_weights, write_random_init
    from jobs.common.covariates import covariate_windows
    from jobs.common.quantiles import exceedance

    torch.set_num_threads(args.threads)
    weights = Path(args.workdir) / "weights"
    write_random_init(weights, size=args.size)
    model = load_pipeline(resolve_weights(weights), torch.device("cpu")).model
    dataset = _dataset(args)
    windows = covariate_windows(dataset, 1, 80, dataset.manifest.threshold)
    part = windows.val.recent(args.windows)
    levels = np.array(model.chronos_config.quantiles)

    def job_arm() -> np.ndarray:
        forecaster = Forecaster(
            model, horizon=1, use_covariates=True, batch_windows=args.batch_windows, device=torch.device("cpu")
        )
        return exceedance(levels, forecaster.quantiles(part)[:, 0, :], part.barrier)

    def anchor_arm() -> np.ndarray:  # what a user writes: the documented dicts through the pipeline
        inputs = [
            {
                "target": part.target[i],
                "past_covariates": {name: part.covariates[i, :, j] for j, name in enumerate(windows.covariate_names)},
            }
            for i in range(len(part.rows))
        ]
        forecasts = Chronos2Pipeline(model=model).predict(inputs, prediction_length=1)
        quantiles = torch.stack([f[0, :, 0] for f in forecasts]).double().numpy()
        return exceedance(levels, quantiles, part.barrier)

    out = {
        "model": "chronos2",
        "shape": f"{args.size}: {SIZES[args.size]}",
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    out.update(_compare(job_arm, anchor_arm, len(part.rows)))
    return out


# Shapes for models whose published config this project could not read offline: TiRex-2's is not in its
# wheel (a guess at its ~82M parameters: sLSTM/mLSTM blocks alternating, 512 wide); PatchTST-FM's width,
# patch and quantiles are on its model card, the depth (20 layers) is chosen for its ~260M parameters;
# TTM r2.1 daily: 90-day context, 30-day forecast (its branch), widths of the r2 family guessed.
def tirex2_worker(args: argparse.Namespace) -> dict:
    import numpy as np
    import torch
    from tirex2 import TimeseriesType

    from jobs.common.covariates import covariate_windows
    from jobs.common.quantiles import exceedance
    from jobs.tirex.tirex2_job import LEVELS, Forecaster, Settings, use_parallel_mlstm
    from jobs.tirex.weights import ResolvedWeights, load, tiny_config, write_random_init
    from shared_schema import WeightsSource

    torch.set_num_threads(args.threads)
    config = tiny_config() if args.size == "tiny" else tiny_config(width=512, patch=32, context_len=2048, future_len=64)
    if args.size != "tiny":
        blocks = ["slstm", "mlstm"] * 6
        config |= {"num_blocks": len(blocks), "stack_config": {**config["stack_config"], "recipe": blocks}}
    folder = write_random_init(Path(args.workdir) / "weights", config)
    model = load(ResolvedWeights(folder, WeightsSource(kind="random-init")), "cpu")
    dataset = _dataset(args)
    windows = covariate_windows(dataset, 1, 80, dataset.manifest.threshold)
    part = windows.val.recent(args.windows)
    settings = Settings(
        mode="zero-shot",
        covariates=True,
        pad_context=True,
        mlstm_kernel=args.mlstm_kernel,
        max_train_windows=0,
        probe_l2=(1.0,),
        predict_batch_size=args.batch_windows,
    )

    job_model = load(ResolvedWeights(folder, WeightsSource(kind="random-init")), "cpu")
    if args.mlstm_kernel == "parallel":
        use_parallel_mlstm(job_model)

    def job_arm() -> np.ndarray:
        return exceedance(LEVELS, Forecaster(job_model, settings, 1).quantiles(part)[:, 0, :], part.barrier)

    def anchor_arm() -> np.ndarray:  # the README's call: one TimeseriesType per series, default batch size
        series = [
            TimeseriesType(
                target=torch.tensor(part.target[i : i + 1], dtype=torch.float32),
                past_covariates=torch.tensor(part.covariates[i].T, dtype=torch.float32),
                future_covariates=None,
            )
            for i in range(len(part.rows))
        ]
        forecasts = model.forecast(series, prediction_length=1, output_type="numpy")
        return exceedance(LEVELS, np.stack([f[0][:, 0] for f in forecasts]).astype(np.float64), part.barrier)

    out = {"model": "tirex2", "shape": args.size, "parameters": sum(p.numel() for p in model.model.parameters())}
    out.update(_compare(job_arm, anchor_arm, len(part.rows)))
    return out


def tirexcls_worker(args: argparse.Namespace) -> dict:
    """TiRex 1.x classifier: both arms embed the 25 variates of each window with the frozen model and apply
    the same logistic head (fitted by the job's code on recent training windows). The anchor is the
    package's `TirexLinearClassifier.predict_proba` with that head in its linear layer; its hub load is
    answered by the loaded model (the bench is offline). Without data augmentation: the package
    standardises the augmentation's statistics over the scored batch, the job over training windows, so
    only the plain embedding is the same function in both arms."""
    import types

    import numpy as np
    import tirex.models.embedding as embedding_module
    import torch

    # tirex.models.classification's __init__ imports its GBM classifier, which needs lightgbm, a package
    # tirex-ts does not declare and the env does not pin: its names are stood in for (never called here)
    sys.modules.setdefault("lightgbm", types.SimpleNamespace(LGBMClassifier=None, early_stopping=None))
    from tirex.models.classification import TirexLinearClassifier

    from jobs.common.covariates import covariate_windows
    from jobs.common.logistic import fit_wide_logistic
    from jobs.common.probe import sigmoid
    from jobs.tirex.tirexcls_job import Embedder, features, package_embedding, variates
    from jobs.tirex.tirexcls_weights import ResolvedWeights, load, save_checkpoint, tiny_hyper_parameters
    from shared_schema import WeightsSource

    torch.set_num_threads(args.threads)
    hyper = tiny_hyper_parameters()
    if args.size != "tiny":  # ~35M (the published size): 12 sLSTM blocks x 512, patch 32, context 2048 (guessed)
        hyper = tiny_hyper_parameters(width=512, heads=4, blocks=12, patch=32)
        hyper["model_config"]["input_ff_dim"] = 2048
        hyper["train_ctx_len"] = 2048
    checkpoint = save_checkpoint(Path(args.workdir) / "weights" / "tirexcls" / "model.ckpt", hyper)
    model = load(ResolvedWeights(checkpoint, WeightsSource(kind="random-init")), "cpu")
    dataset = _dataset(args)
    windows = covariate_windows(dataset, 1, 80, dataset.manifest.threshold)
    part, train = windows.val.recent(args.windows), windows.train.recent(max(32, args.windows // 4))
    embed = Embedder(package_embedding(model, data_augmentation=False, batch_size=args.batch_windows))
    train_x = features(embed(variates(train)), None)
    mean, std = train_x.mean(0), np.where(train_x.std(0) > 1e-8, train_x.std(0), 1.0)
    weights, bias = fit_wide_logistic((train_x - mean) / std, train.y, 1.0)
    x = variates(part)

    def job_arm() -> np.ndarray:
        return sigmoid((features(embed(x), None) - mean) / std @ weights + bias)

    embedding_module.load_model = lambda path, device, compile: model
    classifier = TirexLinearClassifier(data_augmentation=False, device="cpu", batch_size=args.batch_windows)
    head = torch.nn.Linear(len(weights), 2)
    with torch.no_grad():  # logits (0, z): softmax's second column is sigmoid(z)
        head.weight.copy_(torch.from_numpy(np.stack([np.zeros_like(weights), weights / std])))
        head.bias.copy_(torch.tensor([0.0, bias - float(np.sum(weights * mean / std))]))
    classifier.head = head

    def anchor_arm() -> np.ndarray:  # what a user writes once the head is fitted
        return classifier.predict_proba(torch.from_numpy(x))[:, 1].double().numpy()

    out = {"model": "tirexcls", "shape": args.size, "parameters": sum(p.numel() for p in model.parameters())}
    out.update(_compare(job_arm, anchor_arm, len(part.rows)))
    return out


def _granite_worker(args: argparse.Namespace, name: str) -> dict:
    import numpy as np
    import torch
    from tsfm_public.models.patchtst_fm import PatchTSTFMConfig, PatchTSTFMForPrediction
    from tsfm_public.models.tinytimemixer import TinyTimeMixerConfig, TinyTimeMixerForPrediction

    from jobs.common.covariates import covariate_windows
    from jobs.common.quantiles import exceedance
    from jobs.granite import patchtstfm_job, ttm_job
    from jobs.granite.weights import PATCHTSTFM, TTM, load_pretrained, resolve_weights, write_random_init

    torch.set_num_threads(args.threads)
    tiny = args.size == "tiny"
    if name == "patchtstfm":
        shape = (
            dict(context_length=208, d_model=32, n_head=4, n_layer=2)
            if tiny
            else dict(d_model=1024, n_head=16, n_layer=20)
        )
        model, checkpoint, job = (
            PatchTSTFMForPrediction(PatchTSTFMConfig(d_patch=16, **shape)),
            PATCHTSTFM,
            patchtstfm_job,
        )
    else:
        shape = dict(d_model=16, num_layers=2) if tiny else dict(d_model=192, num_layers=2, decoder_d_model=128)
        config = TinyTimeMixerConfig(context_length=90, prediction_length=30, patch_length=10, patch_stride=10, **shape)
        model, checkpoint, job = TinyTimeMixerForPrediction(config), TTM, ttm_job
    weights = Path(args.workdir) / "weights"
    write_random_init(weights, checkpoint, model)
    model = load_pretrained(type(model), resolve_weights(weights, checkpoint)).eval()
    dataset = _dataset(args)
    windows = covariate_windows(dataset, 1, 80, dataset.manifest.threshold)
    part = windows.val.recent(args.windows)
    settings = job.Settings(
        mode="zero-shot",
        max_steps=0,
        batch_size=1,
        lr=1e-5,
        eval_every=1,
        patience=1,
        max_train_windows=0,
        max_val_windows=0,
        probe_l2=(1.0,),
        predict_batch_size=args.batch_windows,
    )
    if name == "patchtstfm":
        levels = np.array(model.config.quantile_levels)
        forecaster = job.Forecaster(model, settings, 1, torch.device("cpu"))

        def job_arm() -> np.ndarray:
            return exceedance(levels, forecaster.quantiles(part)[:, 0, :], part.barrier)

        def anchor_arm() -> np.ndarray:  # the model card's call: every window in one forward
            with torch.no_grad():
                out = model(past_values=torch.tensor(part.target, dtype=torch.float32), prediction_length=1)
            return exceedance(levels, out.quantile_outputs[:, :, 0, 0].double().numpy(), part.barrier)
    else:
        forecaster = job.Forecaster(model, settings, 1, torch.device("cpu"), exogenous=False)

        def job_arm() -> np.ndarray:  # p is a calibrated map of the point score: compare the scores
            return forecaster.point_scores(part)

        def anchor_arm() -> np.ndarray:  # the model card's call on the zero-padded 90-day context
            values, observed = job.model_inputs(part, 90, exogenous=False)
            with torch.no_grad():
                out = model(past_values=values, past_observed_mask=observed).prediction_outputs
            return out[:, 0, 0].double().numpy() - part.barrier

    out = {"model": name, "shape": args.size, "parameters": sum(p.numel() for p in model.parameters())}
    out.update(_compare(job_arm, anchor_arm, len(part.rows)))
    return out


WORKERS = {
    "chronos2": ("chronos", chronos2_worker),
    "tirex2": ("tirex", tirex2_worker),
    "patchtstfm": ("granite", lambda args: _granite_worker(args, "patchtstfm")),
    "ttm": ("granite", lambda args: _granite_worker(args, "ttm")),
    "tirexcls": ("tirex", tirexcls_worker),
}


def _dataset(args: argparse.Namespace):
    from jobs.common.dataset import load_dataset
    from shared_schema import DatasetManifest, DatasetRef, ExperimentSpec

    manifest = DatasetManifest.model_validate_json((Path(args.data) / "sp500.manifest.json").read_text())
    spec = ExperimentSpec(
        id="FD-99",
        slug="bench-h1",
        model="bench",
        env="torch",
        horizon=1,
        threshold=manifest.threshold,
        context_length=80,
        split_dates=manifest.split_dates,
        dataset=DatasetRef(name=manifest.name, sha256=manifest.sha256),
        seed=0,
        profile="quick",
    )
    return load_dataset(Path(args.data), spec)


def _compare(job_arm, anchor_arm, windows: int, repeats: int = 3) -> dict:
    """Windows/s of both arms and how far their P(hit) differ. Each arm is warmed up once, then the two
    are timed alternately `repeats` times and each keeps its fastest run, so a busy machine's slow
    spells do not land on one arm only."""
    import numpy as np

    arms = {"job": job_arm, "anchor": anchor_arm}
    results = {name: arm() for name, arm in arms.items()}
    best = dict.fromkeys(arms, float("inf"))
    for _ in range(repeats):
        for name, arm in arms.items():
            started = time.perf_counter()
            arm()
            best[name] = min(best[name], time.perf_counter() - started)
    return {
        "windows": windows,
        "job_windows_per_s": round(windows / best["job"], 2),
        "anchor_windows_per_s": round(windows / best["anchor"], 2),
        "speedup": round(best["anchor"] / best["job"], 2),
        "max_p_difference": float(np.max(np.abs(results["job"] - results["anchor"]))),
    }


# -- host: one worker per model in its own environment ---------------------------------------------
def _quick_job_seconds(model: str, python: Path, args: argparse.Namespace, workdir: Path) -> float:
    """Wall time of `python -m jobs run` on the quick profile (the catalog's quick defaults), H1, with
    the worker's random-init weights."""
    from jobs.catalog import BY_NAME
    from orchestrator.data.build import load_manifest
    from shared_schema import DatasetRef, ExperimentSpec

    entry = BY_NAME[model]
    manifest = load_manifest(Path(args.data), "sp500")
    spec = ExperimentSpec(
        id=entry.ids[0],
        slug=f"{entry.slug_stem}-h1",
        model=model,
        env=entry.env,
        horizon=1,
        threshold=manifest.threshold,
        context_length=80,
        split_dates=manifest.split_dates,
        dataset=DatasetRef(name=manifest.name, sha256=manifest.sha256),
        seed=0,
        profile="quick",
        device="cpu",
        hyperparameters=entry.defaults("quick"),
    )
    out = workdir / "quick-job"
    out.mkdir()
    (out / "spec.json").write_text(spec.model_dump_json())
    command = [str(python), "-m", "jobs", "run", "--spec", str(out / "spec.json"), "--data", args.data]
    command += ["--out", str(out), "--weights", str(workdir / "weights")]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=_worker_env(args), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{model} quick job failed: {done.stderr.strip().splitlines()[-1:]}")
    return round(time.perf_counter() - started, 1)


def _worker_env(args: argparse.Namespace) -> dict:
    threads = str(args.threads)
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(WORKERS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--windows", type=int, default=256)
    parser.add_argument("--size", default="base", help="random-init shape, see the model's weights module")
    parser.add_argument(
        "--batch-windows",
        type=int,
        help="windows per forward pass of the job arm (default: the catalog's full profile)",
    )
    parser.add_argument(
        "--mlstm-kernel",
        default="chunkwise",
        choices=("chunkwise", "parallel"),
        help="the TiRex-2 job arm's mLSTM kernel (jobs/catalog.py TIREX2; the anchor keeps the package's)",
    )
    parser.add_argument("--no-quick-job", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker][1](args)))
        return

    from jobs.catalog import BY_NAME
    from orchestrator.data.bundled import build_default_dataset
    from orchestrator.environments import ENVIRONMENTS
    from orchestrator.executors.native import VenvManager

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-foundation-") as scratch:
        args.data = str(Path(scratch) / "data")
        build_default_dataset(Path(args.data))
        for model in args.models.split(","):
            env, _ = WORKERS[model]
            python = VenvManager().ensure(ENVIRONMENTS[env], lambda line: print(line, file=sys.stderr))
            workdir = Path(scratch) / model
            workdir.mkdir()
            command = [str(python), __file__, "--worker", model, "--data", args.data, "--workdir", str(workdir)]
            command += ["--threads", str(args.threads), "--windows", str(args.windows), "--size", args.size]
            batch = args.batch_windows or BY_NAME[model].defaults("full")["predict_batch_size"]
            command += ["--batch-windows", str(batch), "--mlstm-kernel", args.mlstm_kernel]
            done = subprocess.run(command, cwd=REPO, env=_worker_env(args), capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{model} worker failed:\n{done.stderr[-2000:]}")
            row = json.loads(done.stdout.strip().splitlines()[-1])
            if not args.no_quick_job:
                row["quick_job_seconds"] = _quick_job_seconds(model, python, args, workdir)
            rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"threads {args.threads}, {args.windows} validation windows, random weights at shape {args.size!r}")
    print("| model | parameters | job windows/s | pipeline windows/s | speed-up | max |p diff| | quick job s |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['model']} | {row['parameters']:,} | {row['job_windows_per_s']} | {row['anchor_windows_per_s']} "
            f"| {row['speedup']}x | {row['max_p_difference']:.1e} | {row.get('quick_job_seconds', '-')} |"
        )


if __name__ == "__main__":
    main()
