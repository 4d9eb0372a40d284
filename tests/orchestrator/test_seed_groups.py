"""Seeds of one experiment trained in one process give, seed for seed, the results of separate
runs (CPU: bit-identical predictions), and the scheduler commits them as ordinary runs."""

import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from jobs import catalog
from jobs.common.io import PREDICTIONS_FILE, RESULT_FILE
from jobs.common.runner import run_job
from jobs.registry import GROUP_ENTRYPOINTS
from orchestrator.cli import cli
from orchestrator.planner import Decision
from orchestrator.seed_groups import seed_groups
from shared_schema import JobResult
from tests.support.helpers import REPO, make_spec

TINY = {"size": 50_000, "epochs": 2, "patience": 1, "max_train_windows": 128, "batch_size": 64}


def run_cli_job(pairs, data_dir):
    command = [sys.executable, "-m", "jobs", "run", "--data", str(data_dir)]
    for spec_file, out in pairs:
        command += ["--spec", str(spec_file), "--out", str(out)]
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"}
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600, env=env)


def outputs(folder):
    result = JobResult.model_validate_json((folder / RESULT_FILE).read_text())
    table = pq.read_table(folder / PREDICTIONS_FILE).to_pydict()
    return result, table


def test_seed_group_equals_separate_runs_bit_for_bit(bundled_data, tmp_path, monkeypatch):
    """Dropout on, so every random stream (init, shuffling, dropout masks) must be the seed's own.
    The group runs through the job's command line, each seed alone through the same runner."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    data_dir, manifest = bundled_data
    specs = [
        make_spec(manifest, "patchtst", "torch", **TINY, dropout=0.1).model_copy(update={"seed": seed})
        for seed in (0, 1)
    ]
    files = []
    for spec in specs:
        file = tmp_path / f"spec{spec.seed}.json"
        file.write_text(json.dumps(spec.model_dump(mode="json")))
        files.append(file)

    grouped = run_cli_job([(f, tmp_path / f"group{i}") for i, f in enumerate(files)], data_dir)
    assert grouped.returncode == 0, grouped.stderr
    assert "seeds=[0, 1]" in grouped.stdout
    assert [
        json.loads(line.split(" ", 1)[1])["seed"]
        for line in grouped.stdout.splitlines()
        if line.startswith("[progress]")
    ] == [0, 0, 1, 1]
    for i, file in enumerate(files):
        run_job(file, data_dir, tmp_path / f"alone{i}", None)
        group_result, group_table = outputs(tmp_path / f"group{i}")
        alone_result, alone_table = outputs(tmp_path / f"alone{i}")
        assert group_result.spec == alone_result.spec and group_result.spec.seed == i
        assert group_table == alone_table  # every probability, bit for bit
        assert group_result.metrics == alone_result.metrics
        assert group_result.notes == alone_result.notes
    assert outputs(tmp_path / "group0")[1]["p"] != outputs(tmp_path / "group1")[1]["p"]


def test_seed_group_refuses_specs_that_differ_in_more_than_seed(bundled_data, tmp_path):
    data_dir, manifest = bundled_data
    first = make_spec(manifest, "dlinear", "torch", **TINY)
    other = first.model_copy(update={"seed": 1, "hyperparameters": {**TINY, "lr": 0.01}})
    pairs = []
    for i, spec in enumerate((first, other)):
        file = tmp_path / f"spec{i}.json"
        file.write_text(json.dumps(spec.model_dump(mode="json")))
        pairs.append((file, tmp_path / f"out{i}"))
    done = run_cli_job(pairs, data_dir)
    assert done.returncode != 0
    assert "job failed: a seed group must differ only in seed" in done.stderr.strip().splitlines()[-1]


def test_planner_groups_torch_seeds_only_when_the_executor_can(orch_home):
    result = CliRunner().invoke(cli, ["plan", "dlinear-h1", "logreg-h1", "--seeds", "3", "--json"])
    assert result.exit_code == 0, result.output
    from orchestrator.experiment_runs import RunRequest, prepare_run

    decisions = prepare_run(
        RunRequest(names=("dlinear-h1", "logreg-h1"), seeds=3, executor="native"), build_dataset=True
    ).decisions
    runs: list[Decision] = [d for d in decisions if d.action == "run"]
    grouped = seed_groups(runs, lambda env: True)
    assert [[d.run.spec.seed for d in unit] for unit in grouped] == [[0, 1, 2], [0], [1], [2]]
    assert {d.run.key.run_key for unit in grouped for d in unit} == {d.run.key.run_key for d in runs}
    assert all(len(unit) == 1 for unit in seed_groups(runs, lambda env: False))


def test_scheduler_commits_a_seed_group_as_ordinary_runs(orch_home, monkeypatch):
    """Through the real scheduler, native executor and venv: one process for both seeds (the
    logreg model joins the groups for this test; its job side loops over the seeds), two run
    folders under the plan's own keys, and a second plan finds both cached."""
    monkeypatch.setitem(GROUP_ENTRYPOINTS, "logreg", "jobs.baselines.sklearn_models:unused")
    runner = CliRunner()
    planned = {
        (r["slug"], r["seed"]): r["run_key"]
        for r in json.loads(runner.invoke(cli, ["plan", "logreg-h1", "--seeds", "2", "--json"]).output)
    }
    result = runner.invoke(cli, ["run", "logreg-h1", "--seeds", "2"])
    assert result.exit_code == 0, result.output
    assert "logreg-h1 seeds 0-1 (one process): started" in result.output
    results = orch_home["ORCH_RESULTS_DIR"]
    folders = sorted(p for p in results.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    assert [f.name for f in folders] == sorted(f"logreg-h1-s{seed}-{key[:12]}" for (_, seed), key in planned.items())
    for folder in folders:
        assert "seeds=[0, 1]" in (folder / "job.log").read_text()  # both trained in one process
    again = json.loads(runner.invoke(cli, ["plan", "logreg-h1", "--seeds", "2", "--json"]).output)
    assert [row["action"] for row in again] == ["skip", "skip"]


# Issue 34 item 2: one model of every job kind in the torch env (each entry point the catalog lists
# there), through `orch run --seeds 2` with this interpreter as the torch env (the native route): a
# job with a seed-group entry trains both seeds in one process, any other runs them one by one.
FIRST_OF_KIND = {m.entry: m.name for m in reversed(catalog.MODELS) if m.env == "torch" and m.entry is not None}
SMALL = {  # --set values that make each kind's job take seconds per seed on one thread
    catalog.TORCH_JOB: ("size=50000", "epochs=1", "max_train_windows=128"),
    "jobs.timer.job:run": ("max_steps=2", "eval_every=1", "max_train_windows=128", "max_val_segments=8"),
}


@pytest.mark.parametrize("model", sorted(FIRST_OF_KIND.values()))
def test_seeds_2_natively_for_every_torch_env_job(orch_home, monkeypatch, model):
    from jobs.timer.model import TimerConfig
    from jobs.timer.weights import write_random_init

    small = TimerConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
    write_random_init(orch_home["ORCH_RESULTS_DIR"].parent / "weights", small)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    slug = f"{catalog.BY_NAME[model].slug_stem}-h1"
    sets = [arg for pair in SMALL[catalog.BY_NAME[model].entry] for arg in ("--set", pair)]
    result = CliRunner().invoke(
        cli, ["run", slug, "--seeds", "2", "--executor", "native", "--python", f"torch={sys.executable}", *sets]
    )
    assert result.exit_code == 0, result.output
    grouped = catalog.BY_NAME[model].group_entry is not None
    assert (f"{slug} seeds 0-1 (one process): started" in result.output) is grouped, result.output
    results = orch_home["ORCH_RESULTS_DIR"]
    folders = sorted(p for p in results.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    assert [f.name.rsplit("-", 1)[0] for f in folders] == [f"{slug}-s0", f"{slug}-s1"]
    assert [outputs(folder)[0].spec.seed for folder in folders] == [0, 1]
    assert outputs(folders[0])[1]["p"] != outputs(folders[1])[1]["p"]  # each seed trained its own model
