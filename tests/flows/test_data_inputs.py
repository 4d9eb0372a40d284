"""Issue 13 items 5-7 and issue 12 item 6: data and dataset inputs get their true one-line reason
(exit 2) before any work, never a traceback, never silent acceptance."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from orchestrator.cli import cli
from orchestrator.data import sources
from orchestrator.data.names import name_from_file
from shared_schema import DatasetManifest
from tests.support.csv_inputs import sample_csv_frame, write_csv


def orch(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line_error(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output


def sane(kind: str, frame: pd.DataFrame) -> pd.DataFrame:
    """One realistic data fault each, on the 2019-2025 sample CSV."""
    frame = frame.copy()
    prices = ["open", "high", "low", "close"]
    if kind == "zero_volume":
        frame.loc[[300, 301], "volume"] = 0.0
    elif kind == "all_zero_volume":
        frame["volume"] = 0.0
    elif kind == "flat":
        frame.loc[400:407, prices] = frame.loc[400, "close"]
    elif kind == "extreme":
        frame.loc[500, prices] = frame.loc[500, prices] * 1e300
    elif kind == "split":
        frame.loc[600:, prices] = frame.loc[600:, prices] / 10
    elif kind == "tiny_volume":
        frame.loc[200, "volume"] = 1e-3
    elif kind == "inf":
        frame["volume"] = frame["volume"].astype(object)
        frame.loc[50, "volume"] = "inf"
    elif kind == "text_number":
        frame["high"] = frame["high"].astype(object)
        frame.loc[70, "high"] = "1,234.5"
    elif kind == "negative_date":
        frame.loc[0, "date"] = "-2020-01-01"
    elif kind == "ancient_and_future":
        frame.loc[0, "date"] = "0001-01-02"
        frame.loc[len(frame) - 1, "date"] = "2738-01-01"
    elif kind == "header_only":
        frame = frame.iloc[:0]
    return frame


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("zero_volume", "zero volume on 2 day(s), first 2020-02-26"),
        ("all_zero_volume", "zero volume on 1800 day(s)"),
        ("flat", "close unchanged for 8 days from"),
        ("extreme", "outside 1e-06..1e+09"),
        ("split", "close moves x0.1"),
        ("tiny_volume", "volume moves x"),
        ("inf", "non-finite Volume (inf)"),
        ("text_number", "High '1,234.5' on"),
        ("negative_date", "Date '-2020-01-01' on data row 1 is not a YYYY-MM-DD date"),
        ("ancient_and_future", "date 0001-01-02 outside 1900-01-01.."),
        ("header_only", "no data rows (header only?)"),
    ],
)
def test_data_faults_get_their_true_reason(tmp_path, kind, message):
    path = write_csv(tmp_path / "bad.csv", sane(kind, sample_csv_frame()))
    one_line_error(orch("data", "build", "--csv", path, "--out", tmp_path / "out"), message)
    assert not (tmp_path / "out" / "bad.parquet").exists()


def test_zero_volume_can_be_repaired_on_request_and_is_recorded(tmp_path):
    path = write_csv(tmp_path / "nasdaq.csv", sane("zero_volume", sample_csv_frame()))
    result = orch("data", "build", "--csv", path, "--out", tmp_path, "--repair-zero-volume")
    assert result.exit_code == 0, result.output
    manifest = DatasetManifest.model_validate(json.loads((tmp_path / "nasdaq.manifest.json").read_text()))
    assert "zero volume on 2 day(s) replaced by the previous day's volume" in manifest.source.description
    frame = pd.read_parquet(tmp_path / "nasdaq.parquet")
    assert np.isfinite(frame[manifest.feature_names].to_numpy(dtype=float)).all()
    assert (frame["volume"] > 0).all()


def test_duplicate_columns_are_refused(tmp_path):
    path = write_csv(tmp_path / "dup.csv", sample_csv_frame())
    text = path.read_text().splitlines()
    path.write_text("\n".join([text[0] + ",Volume"] + [line + ",1" for line in text[1:]]) + "\n")
    one_line_error(orch("data", "build", "--csv", path, "--out", tmp_path), "duplicate column(s) ['Volume']")


def test_the_bundled_data_passes_every_sanity_check():
    frame = sources.load_arch_sp500()
    assert len(frame) == 5031 and (frame["volume"] > 0).all()


@pytest.mark.parametrize(
    ("file_name", "dataset"), [("SPY (1).csv", "SPY_1"), ("données été.csv", "donnees_ete"), ("QQQ.csv", "QQQ")]
)
def test_csv_file_names_become_safe_dataset_names(tmp_path, file_name, dataset):
    path = write_csv(tmp_path / file_name, sample_csv_frame())
    result = orch("data", "build", "--csv", path, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / f"{dataset}.parquet").is_file() and name_from_file(path) == dataset


def test_unnameable_file_and_bad_names_are_refused_before_the_build(tmp_path, monkeypatch):
    monkeypatch.setattr(
        sources, "load_yahoo_csv", lambda *a, **k: pytest.fail("the CSV was read before the name was checked")
    )
    path = write_csv(tmp_path / "日本.csv", sample_csv_frame())
    one_line_error(orch("data", "build", "--csv", path, "--out", tmp_path), "pass --name")
    one_line_error(
        orch("data", "build", "--csv", path, "--name", "../x", "--out", tmp_path), "'../x' is not a dataset name"
    )


def test_output_that_is_a_file_or_a_folder_in_the_way(tmp_path):
    (tmp_path / "afile").write_text("x")
    one_line_error(orch("data", "build", "--synthetic", "--out", tmp_path / "afile"), "is a file, not a folder")
    (tmp_path / "d" / "synthetic.manifest.json").mkdir(parents=True)
    one_line_error(orch("data", "build", "--synthetic", "--out", tmp_path / "d"), "exists and is not a file")


def test_csv_size_is_bounded_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_CSV_BYTES", 1000)
    path = write_csv(tmp_path / "big.csv", sample_csv_frame())
    one_line_error(orch("data", "build", "--csv", path, "--out", tmp_path), "is far more than daily data needs")


# -- datasets named on `orch plan`/`orch run` ----------------------------------------------------------
@pytest.mark.parametrize("name", ["../../x", "/etc/passwd", "..", ".hidden", "a" * 65])
def test_dataset_option_cannot_leave_the_data_folder(orch_home, name):
    one_line_error(orch("plan", "logreg-h1", "--dataset", name), "is not a dataset name")


def test_a_corrupted_dataset_is_refused_at_plan_time(orch_home):
    parquet = orch_home["ORCH_DATA_DIR"] / "sp500.parquet"
    data = bytearray(parquet.read_bytes())
    data[len(data) // 2] ^= 0xFF
    parquet.write_bytes(bytes(data))
    one_line_error(orch("plan", "logreg-h1"), "does not match its manifest")
    one_line_error(orch("run", "logreg-h1"), "rebuild it with `orch data build`")


def test_a_manifest_path_that_is_a_folder(orch_home):
    manifest = orch_home["ORCH_DATA_DIR"] / "sp500.manifest.json"
    manifest.unlink()
    manifest.mkdir()
    one_line_error(orch("plan", "logreg-h1"), "is not a file")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--timeout", "nan", "nan is not a finite number of seconds"),
        ("--timeout", "inf", "inf is not in the range"),
        ("--seeds", "1e20", "'1e20' is not a valid integer"),
        ("--seeds", "100000000000000000000", "is not in the range 1<=x<=1000"),
    ],
)
def test_run_options_are_bounded(orch_home, option, value, message):
    result = orch("run", "logreg-h1", option, value)
    assert result.exit_code == 2 and message in result.output, result.output
    assert not orch_home["ORCH_RESULTS_DIR"].exists()
