"""Seeded mutation fuzzing of what users type and feed: CSVs for `orch data build` and the
options of `orch plan`. Every input must end in exit 0 with a valid dataset/plan, or exit 2 with a
one-line reason: never a traceback, never a known-bad input accepted, never an earlier dataset
damaged. Used by tests/test_fuzz_inputs.py (a few seconds) and benchmarks/fuzz_inputs.py (the
full table for the hardening report).
"""

import csv
import hashlib
import io
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from orchestrator.cli import cli
from orchestrator.data.names import name_from_file
from orchestrator.data.sources import synthetic_ohlcv
from shared_schema import DatasetManifest

HEADER = ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"]
PRICES = ["Open", "High", "Low", "Close"]
# Small enough to build in ~0.1 s: 300 business days from 2020 with splits that fit them.
BUILD_ARGS = ["--train-end", "2020-07-01", "--val-end", "2020-10-01", "--context-length", "10"]
BAD_NUMBERS = ["", "nan", "NaN", "inf", "-inf", "1e309", "1e300", "1e-300", "abc", "1,234", "-1", "0", "--", "\u0662", "null"]
BAD_DATES = ["-2020-01-01", "0001-01-01", "2738-01-01", "2020-13-01", "2020-02-30", "20200101", "01/02/2020", "",
             "yesterday", "2020-01-01T25:00", "9999-12-31", "1899-12-31"]
FILE_NAMES = ["SPY (1).csv", "données.csv", "日本.csv", "..csv", " .csv", "a b;c$d.csv", "x" * 200 + ".csv",
              "-rf.csv", ".hidden.csv", "SPY.tar.gz.csv"]
OUTCOMES = ("accepted", "clean error", "traceback", "silent acceptance", "bad output", "data loss")


@dataclass(frozen=True)
class Case:
    label: str
    file_name: str
    content: bytes
    must_refuse: bool  # a known-bad input: accepting it is silent acceptance
    name_option: bool = True  # pass --name fuzz (else the name comes from the file name)


def base_rows(seed: int = 5) -> list[list[str]]:
    frame = synthetic_ohlcv(rows=300, seed=seed, start="2020-01-01")
    return [[d.strftime("%Y-%m-%d"), *(repr(float(v)) for v in (o, h, l, c, c)), repr(float(vol))]
            for d, o, h, l, c, vol in zip(frame["date"], frame["open"], frame["high"], frame["low"], frame["close"],
                                          frame["volume"])]


def to_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def _cell(rng, header, rows):
    column = rng.choice(HEADER[1:])
    token = rng.choice(BAD_NUMBERS)
    row = rng.randrange(len(rows))
    rows[row][header.index(column)] = token
    return f"cell {column}={token!r}", column != "Adj Close"  # Adj Close is not read


def _date(rng, header, rows):
    token = rng.choice(BAD_DATES)
    rows[rng.choice([0, rng.randrange(len(rows))])][0] = token
    return f"date {token!r}", True


def _rows(rng, header, rows):
    kind = rng.choice(["drop", "duplicate", "swap", "truncate", "reverse"])
    i = rng.randrange(1, len(rows) - 1)
    if kind == "drop":
        del rows[i]
        return "row dropped", False
    if kind == "duplicate":
        rows.insert(i, list(rows[i]))
        return "row duplicated", True
    if kind == "swap":
        rows[i], rows[i + 1] = rows[i + 1], rows[i]
        return "rows swapped", True
    if kind == "reverse":
        rows.reverse()
        return "rows reversed", True
    keep = rng.choice([0, 1, 5, 59, 61, 150, 250])
    del rows[keep:]
    return f"truncated to {keep} rows", keep < 200  # test starts 2020-10-01, row ~196


def _columns(rng, header, rows):
    kind = rng.choice(["drop", "duplicate", "lowercase", "extra", "shuffle"])
    if kind == "drop":
        j = rng.choice([0, 1, 2, 3, 4, 6])
        del header[j]
        for row in rows:
            del row[j]
        return "column dropped", True
    if kind == "duplicate":
        j = rng.choice([1, 2, 3, 4, 6])
        header.append(header[j])
        for row in rows:
            row.append(row[j])
        return f"column {header[j]} duplicated", True
    if kind == "lowercase":
        header[:] = [h.lower() for h in header]
        return "lower-case header", True
    if kind == "extra":
        header.append("Note")
        for row in rows:
            row.append(rng.choice(["", "x", "1"]))
        return "extra column", False
    order = list(range(len(header)))
    rng.shuffle(order)
    header[:] = [header[j] for j in order]
    rows[:] = [[row[j] for j in order] for row in rows]
    return "columns shuffled", False


def _scaled(text: str, factor: float) -> str:
    try:
        return repr(float(text) * factor)
    except ValueError:  # an earlier mutation made it text
        return text


def _market(rng, header, rows):
    kind = rng.choice(["zero-volume", "flat", "spike", "scale-all", "negative-volume"])
    i = rng.randrange(1, len(rows) - 10)
    vol, close = header.index("Volume"), header.index("Close")
    if kind == "zero-volume":
        for row in rows[i: i + rng.choice([1, 3])]:
            row[vol] = "0"
        return "zero volume", True
    if kind == "negative-volume":
        rows[i][vol] = "-5"
        return "negative volume", True
    if kind == "flat":
        level = rows[i][close]
        for row in rows[i: i + 6]:
            for column in PRICES:
                row[header.index(column)] = level
        return "flat prices for 6 days", True
    if kind == "spike":
        for column in PRICES:
            row = rows[i]
            row[header.index(column)] = _scaled(row[header.index(column)], 1e6)
        return "one day x1e6", True
    for row in rows:
        for column in PRICES:
            row[header.index(column)] = _scaled(row[header.index(column)], 1e12)
    return "every price x1e12", True


CELL_MUTATIONS: list[Callable] = [_cell, _date, _market]
MUTATIONS: list[Callable] = [*CELL_MUTATIONS, _rows, _columns]


def _bytes(rng, data: bytes) -> tuple[bytes, str, bool]:
    kind = rng.choice(["flip", "nul", "cut", "bom", "latin1", "empty", "newlines", "binary", "crlf"])
    if kind == "flip":
        buffer = bytearray(data)
        for _ in range(rng.choice([1, 5, 50])):
            buffer[rng.randrange(len(buffer))] = rng.randrange(256)
        return bytes(buffer), "bytes flipped", False
    if kind == "nul":
        at = rng.randrange(len(data))
        return data[:at] + b"\0" * rng.choice([1, 100]) + data[at:], "NUL bytes", False
    if kind == "cut":
        return data[: rng.randrange(len(data))], "cut mid-file", False
    if kind == "bom":
        return b"\xef\xbb\xbf" + data, "UTF-8 BOM", False
    if kind == "latin1":
        return data.replace(b"Close", "Cl\xf6se".encode("latin-1"), 1), "latin-1 header", True
    if kind == "crlf":
        return data.replace(b"\n", b"\r\n"), "CRLF line ends", False
    if kind == "empty":
        return b"", "empty file", True
    if kind == "newlines":
        return b"\n\n\n", "only newlines", True
    return bytes(rng.randrange(256) for _ in range(2000)), "random bytes", True


def make_case(rng: random.Random, rows: list[list[str]]) -> Case:
    header, table = list(HEADER), [list(r) for r in rows]
    roll = rng.random()
    if roll < 0.15:
        data, label, must_refuse = _bytes(rng, to_bytes(header, table))
        return Case(label, "fuzz.csv", data, must_refuse)
    if roll < 0.25:
        name = rng.choice(FILE_NAMES)
        return Case(f"file name {name[:20]!r}", name, to_bytes(header, table), False, name_option=False)
    label, must_refuse = "", False
    if rng.random() < 0.2:  # a second mutation first, one that keeps the table's shape
        label, must_refuse = rng.choice(CELL_MUTATIONS)(rng, header, table)
        label += " + "
    more, refuse = rng.choice(MUTATIONS)(rng, header, table)
    label, must_refuse = label + more, must_refuse or refuse
    return Case(label, "fuzz.csv", to_bytes(header, table), must_refuse)


@dataclass(frozen=True)
class Result:
    case: Case
    outcome: str
    detail: str


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def classify(result, must_refuse: bool) -> tuple[str, str]:
    output = result.output.strip()
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return "traceback", f"{type(result.exception).__name__}: {result.exception}"[:300]
    if result.exit_code == 0:
        return ("silent acceptance", output[-200:]) if must_refuse else ("accepted", "")
    # Click's own usage errors put "Usage: ..." and "Try ..." above the one "Error: ..." line.
    lines = [line for line in output.splitlines() if line and not line.startswith(("Usage: ", "Try '"))]
    if result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("Error: "):
        return "clean error", lines[0][:300]
    return "bad output", f"exit {result.exit_code}: {output[:300]}"


def fuzz_csvs(n: int, seed: int, folder: Path) -> list[Result]:
    """Build `n` mutated CSVs into `folder/out`, where a good dataset `keep` must survive them all."""
    runner = CliRunner()
    out = folder / "out"
    rows = base_rows()
    folder.mkdir(parents=True, exist_ok=True)
    good = folder / "keep.csv"
    good.write_bytes(to_bytes(HEADER, rows))
    first = runner.invoke(cli, ["data", "build", "--csv", str(good), "--out", str(out), *BUILD_ARGS])
    assert first.exit_code == 0, first.output
    rng = random.Random(seed)
    results = []
    for i in range(n):
        case = make_case(rng, rows)
        source = folder / f"in{i}"
        source.mkdir()
        path = source / case.file_name
        path.write_bytes(case.content)
        before = _digest(out)
        args = ["data", "build", "--csv", str(path), "--out", str(out), *BUILD_ARGS]
        invoked = runner.invoke(cli, args + (["--name", "fuzz"] if case.name_option else []))
        outcome, detail = classify(invoked, case.must_refuse)
        after = _digest(out)
        if outcome == "accepted":
            name = "fuzz" if case.name_option else name_from_file(Path(case.file_name))
            manifest = DatasetManifest.model_validate(json.loads((out / f"{name}.manifest.json").read_text()))
            if hashlib.sha256((out / f"{name}.parquet").read_bytes()).hexdigest() != manifest.sha256:
                outcome, detail = "bad output", "parquet does not match its manifest"
        kept = {k: v for k, v in after.items() if k.startswith("keep.")} == {k: v for k, v in before.items() if k.startswith("keep.")}
        stray = [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
        changed_on_failure = invoked.exit_code != 0 and after != before
        if not kept or stray or changed_on_failure:
            outcome, detail = "data loss", f"keep intact {kept}, temp files {stray}, changed on failure {changed_on_failure}"
        results.append(Result(case, outcome, detail))
    return results


# -- `orch plan` options -------------------------------------------------------------------------------
GOOD_KEYS = ["C", "max_iter", "lr", "size", "dropout"]  # each declared by at least one model
BAD_KEYS = ["c", "seed", "slug", "horizon", "k" * 5000, "", "C ", "épochs"]  # declared by none
GOOD_VALUES = ["0.5", "0", "1e-400", "3"]  # in range for at least one good key
BAD_VALUES = ["abc", "-1", "NaN", "Infinity", "-Infinity", "1e999", '{"a":1}', "[1,2]", "true", "null", "1" * 400,
              " ", "0x10", '"1"', "2000000000000000000000"]  # in range for no good key
GOOD_OPTIONS = [["--dataset", "sp500"], ["--seeds", "3"], ["--profile", "full"]]
BAD_OPTIONS = [["--seeds", "1e20"], ["--seeds", "0"], ["--seeds", "-3"], ["--seeds", "100000000000000000000"],
               ["--seeds", "1001"], ["--dataset", "../../x"], ["--dataset", "/etc/passwd"], ["--dataset", ".."],
               ["--dataset", "nope"], ["--dataset", "a" * 300], ["--profile", "huge"], ["--horizon", "99"],
               ["--model", "gpt"], ["--executor", "ssh"]]


def option_args(rng: random.Random) -> tuple[list[str], bool]:
    """An `orch plan` command line, and whether it is known-bad (a value or key no model takes)."""
    args = ["plan", rng.choice(["logreg-h1", "gboost-h3", "BL-05", "patchtst-h1", "FD-01"]), "--json"]
    if rng.random() < 0.3:
        options = rng.choice(GOOD_OPTIONS + BAD_OPTIONS)
        return args + options, options in BAD_OPTIONS
    must_refuse = False
    for _ in range(rng.choice([1, 1, 2])):
        key = rng.choice(GOOD_KEYS + BAD_KEYS)
        value = rng.choice(GOOD_VALUES + BAD_VALUES)
        must_refuse = must_refuse or key in BAD_KEYS or value in BAD_VALUES
        args += ["--set", f"{key}={value}"]
    return args, must_refuse


def fuzz_options(n: int, seed: int) -> list[tuple[list[str], str, str]]:
    """`orch plan` with mutated options (in an ORCH_* home with the bundled dataset)."""
    runner = CliRunner()
    rng = random.Random(seed)
    results = []
    for _ in range(n):
        args, must_refuse = option_args(rng)
        invoked = runner.invoke(cli, args)
        outcome, detail = classify(invoked, must_refuse)
        if outcome == "accepted":
            json.loads(invoked.output)  # a plan was printed
        results.append((args, outcome, detail))
    return results


def tally(outcomes: list[str]) -> dict[str, int]:
    counts = Counter(outcomes)
    return {name: counts.get(name, 0) for name in OUTCOMES}
