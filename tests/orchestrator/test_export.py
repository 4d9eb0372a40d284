"""`orch export` and `orchestrator.results.table()/predictions()` over real `orch run` results."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from orchestrator import results
from orchestrator.commands.export import DEFAULT_MIN_SEEDS, export_command
from orchestrator.report.defaults import DEFAULT_MIN_SEEDS as REPORT_MIN_SEEDS
from tests.support.real_runs import BASELINE_SLUGS, baseline_runs, copy_run  # noqa: F401  (the session fixture)


def run_folders(results_dir: Path) -> list[Path]:
    return sorted(p for p in results_dir.iterdir() if (p / "result.json").is_file())


def export(*args: str):
    return CliRunner().invoke(export_command, list(args))


def test_table_has_one_row_per_run_with_the_stated_numbers(baseline_runs):  # noqa: F811
    table = results.table(baseline_runs.results)
    assert sorted(table["slug"]) == sorted(BASELINE_SLUGS)
    assert table.attrs["skipped"] == []
    for folder in run_folders(baseline_runs.results):
        stated = json.loads((folder / "result.json").read_text())
        row = table[table["folder"] == folder.name].iloc[0]
        assert row["run_key"] == stated["provenance"]["run_key"] and row["run_key"][:12] == folder.name[-12:]
        assert row["experiment_id"] == stated["spec"]["id"] and row["horizon"] == stated["spec"]["horizon"]
        for split in ("val", "test"):
            for metric in ("auc", "accuracy", "precision", "recall", "brier", "ece"):
                assert row[f"{split}_{metric}"] == stated["metrics"][split][metric]
        assert row["train_seconds"] == stated["timings"]["train_seconds"]
        assert row["dataset_sha256"] == stated["spec"]["dataset"]["sha256"]
        assert (row["family"], row["env"], row["executor"], row["profile"]) == (
            "classical",
            "sklearn",
            "native",
            "quick",
        )
        assert row["flags"] == "quick" and not row["eligible"] and row["weights_source"] == "from-scratch"
        assert pd.isna(row["fold"])  # a single split


def test_predictions_are_every_row_of_every_run(baseline_runs):  # noqa: F811
    long = results.predictions(baseline_runs.results)
    table = results.table(baseline_runs.results)
    assert len(long) == int((table["val_n"] + table["test_n"]).sum())
    for folder in run_folders(baseline_runs.results):
        own = pd.read_parquet(folder / "predictions.parquet").sort_values(["split", "date"], ignore_index=True)
        key = json.loads((folder / "result.json").read_text())["provenance"]["run_key"]
        exported = long[long["run_key"] == key].sort_values(["split", "date"], ignore_index=True)
        assert exported["p"].tolist() == own["p"].tolist() and exported["y_true"].tolist() == own["y_true"].tolist()
        assert set(exported["slug"]) == {json.loads((folder / "result.json").read_text())["spec"]["slug"]}


def test_random_init_and_few_seeds_are_flagged_and_invalid_runs_left_out(baseline_runs, tmp_path):  # noqa: F811
    source = next(f for f in run_folders(baseline_runs.results) if f.name.startswith("logreg-h1-"))
    folder = tmp_path / "results"
    random_init = copy_run(source, folder, seed=1, weights_kind="random-init")
    tampered = copy_run(source, folder, seed=2)
    stated = json.loads((tampered / "result.json").read_text())
    stated["metrics"]["test"]["auc"] = 0.99  # a result edited by hand no longer matches its predictions
    (tampered / "result.json").write_text(json.dumps(stated))
    shutil.copytree(source, folder / source.name)

    table = results.table(folder)
    assert sorted(table["folder"]) == sorted([source.name, random_init.name])
    row = table[table["folder"] == random_init.name].iloc[0]
    assert row["weights_kind"] == "random-init" and "random-init" in row["flags"].split(",") and not row["eligible"]
    assert [Path(path).name for path, _ in table.attrs["skipped"]] == [tampered.name]
    assert "test auc" in table.attrs["skipped"][0][1]

    outcome = export("--results", str(folder), "--format", "csv", "--out", str(tmp_path / "runs.csv"))
    assert outcome.exit_code == 0, outcome.output
    assert f"skipped {tampered.name}" in outcome.output
    assert "random-init" in pd.read_csv(tmp_path / "runs.csv")["flags"].str.cat(sep=",")


def test_cli_writes_parquet_and_csv_that_read_back_as_the_api_table(baseline_runs, tmp_path):  # noqa: F811
    results_dir = tmp_path / "results"
    shutil.copytree(baseline_runs.results, results_dir)
    outcome = export("--results", str(results_dir))
    assert outcome.exit_code == 0, outcome.output
    written = pd.read_parquet(results_dir / "runs.parquet")
    api = results.table(results_dir)
    pd.testing.assert_frame_equal(written, api, check_dtype=False)
    outcome = export("--results", str(results_dir), "--predictions", "--out", str(tmp_path / "long.csv"))
    assert outcome.exit_code == 0, outcome.output
    long = pd.read_csv(tmp_path / "long.csv")
    assert len(long) == len(results.predictions(results_dir)) and {"date", "split", "y_true", "p", "run_key"} <= set(
        long
    )
    assert not [p.name for p in tmp_path.rglob(".*.tmp")]  # atomic writes leave no temp file
    assert "runs.parquet" not in {s for s, _ in results.table(results_dir).attrs["skipped"]}  # its own output is no run


@pytest.mark.parametrize(
    "args, reason",
    [
        (["--out", "{tmp}"], "is a folder"),
        (["--out", "{tmp}/x.txt"], "does not end in .parquet"),
        (["--out", "{tmp}/x.csv", "--format", "parquet"], "pass --format csv"),
        (["--results", "{tmp}/absent"], "no such results folder"),
        (["--results", "{tmp}"], "no valid runs in"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, reason):
    outcome = export(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert outcome.exit_code == 2 and reason in outcome.output, outcome.output
    assert len(outcome.output.strip().splitlines()) == 1 and "Traceback" not in outcome.output


def test_cli_default_is_the_report_default():
    assert DEFAULT_MIN_SEEDS is REPORT_MIN_SEEDS
