"""Seeded mutation fuzzing of what users type and feed: CSVs for `orch data build` and the
options of `orch plan`. Every input must end in exit 0 with a valid dataset/plan, or exit 2 with a
one-line reason: never a traceback, never a known-bad input accepted, never an earlier dataset
damaged. Used by tests/flows/test_fuzz_inputs.py (a few seconds) and benchmarks/fuzz_inputs.py (the
full table for the hardening report).
"""

import csv
import hashlib
import io
import json
import os
import random
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
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
BAD_NUMBERS = [
    "",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e309",
    "1e300",
    "1e-300",
    "abc",
    "1,234",
    "-1",
    "0",
    "--",
    "\u0662",
    "null",
]
BAD_DATES = [
    "-2020-01-01",
    "0001-01-01",
    "2738-01-01",
    "2020-13-01",
    "2020-02-30",
    "20200101",
    "01/02/2020",
    "",
    "yesterday",
    "2020-01-01T25:00",
    "9999-12-31",
    "1899-12-31",
]
FILE_NAMES = [
    "SPY (1).csv",
    "données.csv",
    "日本.csv",
    "..csv",
    " .csv",
    "a b;c$d.csv",
    "x" * 200 + ".csv",
    "-rf.csv",
    ".hidden.csv",
    "SPY.tar.gz.csv",
]
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
    return [
        [d.strftime("%Y-%m-%d"), *(repr(float(v)) for v in (o, h, low, c, c)), repr(float(vol))]
        for d, o, h, low, c, vol in zip(
            frame["date"], frame["open"], frame["high"], frame["low"], frame["close"], frame["volume"]
        )
    ]


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
        for row in rows[i : i + rng.choice([1, 3])]:
            row[vol] = "0"
        return "zero volume", True
    if kind == "negative-volume":
        rows[i][vol] = "-5"
        return "negative volume", True
    if kind == "flat":
        level = rows[i][close]
        for row in rows[i : i + 6]:
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
        kept = {k: v for k, v in after.items() if k.startswith("keep.")} == {
            k: v for k, v in before.items() if k.startswith("keep.")
        }
        stray = [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
        changed_on_failure = invoked.exit_code != 0 and after != before
        if not kept or stray or changed_on_failure:
            outcome, detail = (
                "data loss",
                f"keep intact {kept}, temp files {stray}, changed on failure {changed_on_failure}",
            )
        results.append(Result(case, outcome, detail))
    return results


# -- `orch plan` options -------------------------------------------------------------------------------
GOOD_KEYS = ["C", "max_iter", "lr", "size", "dropout"]  # each declared by at least one model
BAD_KEYS = ["c", "seed", "slug", "horizon", "k" * 5000, "", "C ", "épochs"]  # declared by none
GOOD_VALUES = ["0.5", "0", "1e-400", "3"]  # in range for at least one good key
BAD_VALUES = [
    "abc",
    "-1",
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    '{"a":1}',
    "[1,2]",
    "true",
    "null",
    "1" * 400,
    " ",
    "0x10",
    '"1"',
    "2000000000000000000000",
]  # in range for no good key
GOOD_OPTIONS = [["--dataset", "sp500"], ["--seeds", "3"], ["--profile", "full"]]
BAD_OPTIONS = [
    ["--seeds", "1e20"],
    ["--seeds", "0"],
    ["--seeds", "-3"],
    ["--seeds", "100000000000000000000"],
    ["--seeds", "1001"],
    ["--dataset", "../../x"],
    ["--dataset", "/etc/passwd"],
    ["--dataset", ".."],
    ["--dataset", "nope"],
    ["--dataset", "a" * 300],
    ["--profile", "huge"],
    ["--horizon", "99"],
    ["--model", "gpt"],
    ["--executor", "ssh"],
]


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


# -- the newest surfaces: `orch ingest`, `orch weights import`, `--python`, `--ray-address` ------------
@dataclass(frozen=True)
class SurfaceCase:
    """One hostile command line; `must_refuse` = exit 0 would be silent acceptance. `env`: variables
    set (None: unset) for this case; `lists` = the command lists one line per item before its one
    `Error:` line (validate, report, run), so only the last line must be that reason; `check` runs
    after an accepted case and names what it did wrong (wrote where it must not, mislabelled)."""

    surface: str
    label: str
    args: list[str]
    must_refuse: bool = True
    env: dict[str, str | None] = field(default_factory=dict)
    lists: bool = False
    check: Callable[[], str | None] | None = None


def run_surface_cases(
    cases: list[SurfaceCase], stored: Callable[[], list[str]], escaped: Callable[[], list[str]]
) -> list[tuple[SurfaceCase, str, str]]:
    """Each case through the CLI; `stored` lists what a refused case must not leave behind (run
    folders, staging, installed weights) and `escaped` what no case may ever write (outside paths)."""
    runner = CliRunner()
    results = []
    for case in cases:
        before = stored()
        invoked = runner.invoke(cli, case.args, env=case.env)
        outcome, detail = classify(_last_line_only(invoked) if case.lists else invoked, case.must_refuse)
        if "Traceback" in invoked.output:
            outcome, detail = "traceback", invoked.output[-300:]
        if outcome == "accepted" and case.check is not None and (problem := case.check()):
            outcome, detail = "silent acceptance", problem
        if (invoked.exit_code != 0 and stored() != before) or escaped():
            outcome, detail = "data loss", f"left {sorted(set(stored()) - set(before))}, wrote outside {escaped()}"
        results.append((case, outcome, detail))
    return results


@dataclass(frozen=True)
class _Reply:
    """A CLI result reduced to its last line (what `classify` reads), for commands that list items first."""

    output: str
    exit_code: int
    exception: BaseException | None


def _last_line_only(invoked) -> _Reply:
    lines = [line for line in invoked.output.splitlines() if line.strip()]
    return _Reply(lines[-1] if lines else "", invoked.exit_code, invoked.exception)


def zip_of(path: Path, members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> Path:
    import stat
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path


def tampered_result(result_json: bytes, change: Callable[[dict], None]) -> bytes:
    data = json.loads(result_json)
    change(data)
    return json.dumps(data).encode()


def tampered_predictions(parquet: bytes, column: str, change: Callable[[list], list], folder: Path) -> bytes:
    """The predictions file with one column's values changed, the contract's column types kept."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = folder / "source.parquet"
    source.write_bytes(parquet)
    table = pq.read_table(source)
    index = table.schema.get_field_index(column)
    values = change(table.column(column).to_pylist())
    table = table.set_column(index, table.schema.field(index), pa.array(values, table.schema.field(index).type))
    out = folder / "changed.parquet"
    pq.write_table(table, out)
    return out.read_bytes()


def ingest_cases(result_json: bytes, predictions: bytes, rng: random.Random, folder: Path) -> list[SurfaceCase]:
    """`orch ingest` inputs built from a real job's two files (a host-side run, not a notebook's)."""
    folder.mkdir(parents=True, exist_ok=True)
    as_notebook = tampered_result(result_json, lambda d: d["provenance"].update(executor="notebook"))
    good = {"result.json": as_notebook, "predictions.parquet": predictions}
    cases = []

    def add(label: str, path: Path) -> None:
        cases.append(SurfaceCase("ingest", label, ["ingest", str(path)]))

    whole = zip_of(folder / "whole.zip", good).read_bytes()
    for i, cut in enumerate(sorted(rng.sample(range(1, len(whole)), 4))):
        (folder / f"cut{i}.zip").write_bytes(whole[:cut])
        add(f"zip cut at byte {cut}/{len(whole)}", folder / f"cut{i}.zip")
    add(
        "oversized zip member (128 MiB of zeros)",
        zip_of(folder / "bomb.zip", {"result.json": b"0" * (128 << 20), "predictions.parquet": predictions}),
    )
    for i, prefix in enumerate(["../../escape/", "/tmp/escape-abs/", "a/../../escape/", "..\\..\\escape\\"]):
        add(
            f"zip-slip member names {prefix!r}",
            zip_of(folder / f"slip{i}.zip", {prefix + name: payload for name, payload in good.items()}),
        )
    add("two result.json in one zip", zip_of(folder / "twice.zip", {**good, "other/result.json": result_json}))
    add(
        "zip whose members are symlinks to outside files",
        zip_of(folder / "links.zip", {}, {"result.json": "/etc/passwd", "predictions.parquet": "/etc/hostname"}),
    )
    linked = folder / "linked"
    linked.mkdir()
    (linked / "result.json").symlink_to("/etc/passwd")
    (linked / "predictions.parquet").symlink_to("/etc/hostname")
    add("folder of symlinks to outside files", linked)
    add("empty zip", zip_of(folder / "empty.zip", {}))
    (folder / "not-a-zip.zip").write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    add("random bytes named .zip", folder / "not-a-zip.zip")
    add("no such path", folder / "missing.zip")
    empty_dir = folder / "empty-dir"
    empty_dir.mkdir()
    add("empty folder", empty_dir)
    other_data = tampered_result(
        as_notebook,
        lambda d: (d["provenance"].update(dataset_sha256="f" * 64), d["spec"]["dataset"].update(sha256="f" * 64)),
    )
    add(
        "a result for another dataset",
        zip_of(folder / "other-data.zip", {"result.json": other_data, "predictions.parquet": predictions}),
    )

    def one_changed(value):
        def change(values: list) -> list:
            i = rng.randrange(1, len(values))
            return values[:i] + [value(values, i)] + values[i + 1 :]

        return change

    changes = (
        ("NaN in p", "p", one_changed(lambda values, i: float("nan"))),
        ("a missing y_true", "y_true", one_changed(lambda values, i: None)),
        ("a duplicated date", "date", one_changed(lambda values, i: values[i - 1])),
    )
    for label, column, change in changes:
        changed = tampered_predictions(predictions, column, change, folder)
        add(
            f"predictions with {label}",
            zip_of(
                folder / f"pred-{label.replace(' ', '-')}.zip",
                {"result.json": as_notebook, "predictions.parquet": changed},
            ),
        )
    return cases


def weights_cases(rng: random.Random, folder: Path, outside: Path) -> list[SurfaceCase]:
    """`orch weights import` inputs: wrong file types, empty folders, symlinks out of the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    secret = outside / "secret.txt"
    secret.write_text("not weights\n")
    cases = []

    def add(label: str, name: str, path: Path) -> None:
        cases.append(SurfaceCase("weights import", label, ["weights", "import", name, str(path), "--revision", "main"]))

    (folder / "lag-llama.ckpt").write_bytes(bytes(rng.randrange(256) for _ in range(2048)))
    add("random bytes as lag-llama.ckpt", "lag-llama", folder / "lag-llama.ckpt")
    text = folder / "notes.txt"
    text.write_text("hello\n")
    add("a text file as lag-llama", "lag-llama", text)
    zip_of(folder / "plain.zip", {"a.txt": b"x"})
    add("a zip that is no checkpoint as lag-llama", "lag-llama", folder / "plain.zip")
    add("a single file for timer (a folder model)", "timer", text)
    for name in ("timer", "timesfm", "lag-llama"):
        empty = folder / f"empty-{name}"
        empty.mkdir()
        add(f"empty folder as {name}", name, empty)
    linked = folder / "linked-timer"
    linked.mkdir()
    (linked / "config.json").symlink_to(secret)
    (linked / "model.safetensors").symlink_to("/etc/hostname")
    add("timer folder of symlinks pointing outside", "timer", linked)
    linked_fm = folder / "linked-timesfm"
    linked_fm.mkdir()
    for required in ("_CHECKPOINT_METADATA", "_METADATA", "manifest.ocdbt"):
        (linked_fm / required).symlink_to(secret)
    add("timesfm folder of symlinks pointing outside", "timesfm", linked_fm)
    wrong = folder / "wrong-timer"
    wrong.mkdir()
    (wrong / "config.json").write_bytes(b"\x00\x01not json")
    (wrong / "model.safetensors").write_bytes(bytes(rng.randrange(256) for _ in range(512)))
    add("timer folder with a binary config.json and random model.safetensors", "timer", wrong)
    add("no such path", "timer", folder / "missing")
    return cases


def python_cases(folder: Path, python39: Path | None) -> list[SurfaceCase]:
    """`--python ENV=PATH` on `orch plan`: things that are not Python, an old Python, missing packages."""
    folder.mkdir(parents=True, exist_ok=True)
    cases = []

    def add(label: str, value: str, must_refuse: bool = True) -> None:
        cases.append(
            SurfaceCase(
                "--python",
                label,
                ["plan", "logreg-h1", "--executor", "native", "--python", value, "--json"],
                must_refuse,
            )
        )

    add("/bin/ls", "sklearn=/bin/ls")
    add("/etc/passwd (not executable)", "sklearn=/etc/passwd")
    add("a folder", f"sklearn={folder}")
    add("no such file", f"sklearn={folder / 'nope' / 'python'}")
    chatty = folder / "chatty"
    chatty.write_text("#!/bin/sh\necho 'Python 3.11.4 but not really'\n")
    chatty.chmod(0o755)
    add("a script that prints text and exits 0", f"sklearn={chatty}")
    silent = folder / "silent"
    silent.write_text("#!/bin/sh\nexit 0\n")
    silent.chmod(0o755)
    add("a script that prints nothing", f"sklearn={silent}")
    liar = folder / "python3.9-fake"
    liar.write_text('#!/bin/sh\necho \'{"python": "3.9", "system": "Linux", "machine": "x86_64", "packages": {}}\'\n')
    liar.chmod(0o755)
    add("a fake interpreter that reports Python 3.9", f"sklearn={liar}")
    if python39 is not None:
        add(f"a real Python 3.9 ({python39})", f"sklearn={python39}")
    add("the system Python 3.11 without the pinned packages", "sklearn=/usr/bin/python3", must_refuse=False)
    add("unknown env", "nosuchenv=/usr/bin/python3")
    add("no ENV= part", "/usr/bin/python3")
    return cases


def ray_address_cases(rng: random.Random, closed_port: int) -> list[SurfaceCase]:
    """`--ray-address` garbage and an address where nothing listens."""
    garbage = [
        "",
        ":",
        "host:",
        ":6379",
        "a:b",
        "127.0.0.1:99999",
        "127.0.0.1:0",
        "127.0.0.1:-1",
        "[::1]:x",
        "http://127.0.0.1:6379/",
        "ray://",
        "x" * 300 + ":1",
        "127.0.0.1:6379:1",
        "ünïcode:80",
        " :80",
    ]
    chosen = rng.sample(garbage, 10) + [f"127.0.0.1:{closed_port}"]
    return [
        SurfaceCase(
            "--ray-address",
            f"{address[:30]!r}",
            ["run", "logreg-h1", "--executor", "ray", "--ray-address", address, "--json"],
        )
        for address in chosen
    ]


# -- one gate for every run folder (issue 36) ------------------------------------------------------------
def edit_result(change: Callable[[dict], None]) -> Callable[[Path, Path], None]:
    def plant(run: Path, outside: Path) -> None:
        data = json.loads((run / "result.json").read_text())
        change(data)
        (run / "result.json").write_text(json.dumps(data))

    return plant


def _shuffle_predictions(run: Path, outside: Path) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(run / "predictions.parquet")
    shuffled = np.random.default_rng(36).permutation(table.column("p").to_numpy())
    pq.write_table(table.set_column(3, "p", pa.array(shuffled, pa.float64())), run / "predictions.parquet")


def _link_out(name: str) -> Callable[[Path, Path], None]:
    def plant(run: Path, outside: Path) -> None:
        (run / name).unlink(missing_ok=True)
        (run / name).symlink_to(next(outside.iterdir()) / name if name != "job.log" else "/etc/passwd")

    return plant


def _link_folder_out(run: Path, outside: Path) -> None:
    """A run-named link in the results folder to a valid run elsewhere (its own name, its own key)."""
    target = next(outside.iterdir())
    (run.parent / target.name).symlink_to(target, target_is_directory=True)


def _remove(name: str) -> Callable[[Path, Path], None]:
    return lambda run, outside: (run / name).unlink()


# Each plants one tampering in a copy of a committed run folder; `outside` holds a valid run elsewhere.
RUN_FOLDER_TAMPERINGS: dict[str, Callable[[Path, Path], None]] = {
    "quick profile edited to full": edit_result(lambda d: d["spec"].update(profile="full")),
    "hyper-parameters edited": edit_result(lambda d: d["spec"]["hyperparameters"].update(C=123.0)),
    "run key removed": edit_result(lambda d: d.update(provenance=None)),
    "run key edited": edit_result(lambda d: d["provenance"].update(run_key="0" * 64)),
    "a recorded key part edited": edit_result(lambda d: d["provenance"].update(env_fingerprint="another")),
    "test AUC edited": edit_result(lambda d: d["metrics"]["test"].update(auc=0.99)),
    "decision threshold edited": edit_result(lambda d: d.update(decision_threshold=0.123)),
    "predictions shuffled": _shuffle_predictions,
    "predictions removed": _remove("predictions.parquet"),
    "predictions cut short": lambda run, outside: (run / "predictions.parquet").write_bytes(
        (run / "predictions.parquet").read_bytes()[:500]
    ),
    "result.json removed": _remove("result.json"),
    "result.json not JSON": lambda run, outside: (run / "result.json").write_text("{not json"),
    "result.json nested 200000 deep": lambda run, outside: (run / "result.json").write_text(
        '{"spec": ' + "[" * 200_000 + "]" * 200_000 + "}"
    ),
    "folder copied under another name": lambda run, outside: shutil.copytree(
        run, run.parent / f"{run.name[:-12]}{'0' * 12}"
    ),
    "folder renamed": lambda run, outside: run.rename(run.parent / f"{run.name[:-12]}{'f' * 12}"),
    "result.json a link out of the folder": _link_out("result.json"),
    "predictions a link out of the folder": _link_out("predictions.parquet"),
    "job.log a link to /etc/passwd": _link_out("job.log"),
    "a run-named link to a valid run outside": _link_folder_out,
}
# Tamperings that add a folder beside the run they copy or link, leaving that run itself valid.
ADDS_A_FOLDER = {"folder copied under another name", "a run-named link to a valid run outside"}


def tree_digest(folder: Path) -> list[str]:
    """Every file under `folder` with its sha256 (links listed, not followed): what a refused case must not change."""
    found = []
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if path.is_symlink():
            found.append(f"{path.relative_to(folder)} -> {os.readlink(path)}")
        elif path.is_file():
            found.append(f"{path.relative_to(folder)} {hashlib.sha256(path.read_bytes()).hexdigest()[:12]}")
    return found


def gate_cases(
    result_json: bytes, predictions: bytes, rng: random.Random, folder: Path, data_dir: Path
) -> list[SurfaceCase]:
    """Issue 36's cases against a real committed run (its two files): each tampering of a run folder
    through `orch validate`, `orch report` and `orch export`; then the one-line refusals of items 4-8
    and the weights identity of items 9-10. Everything is built under `folder`."""
    from shared_schema import JobResult
    from shared_schema.identity import KeyParts, run_folder_name

    result = JobResult.model_validate_json(result_json)
    name = run_folder_name(result.spec, result.provenance.run_key)
    valid = folder / "valid"
    _write_run(valid / name, result_json, predictions)
    # the same run committed under another environment: valid, another key, outside every results copy
    elsewhere = result.model_copy(
        update={"provenance": result.provenance.model_copy(update={"env_fingerprint": "elsewhere"})}
    )
    key = KeyParts(*(getattr(elsewhere.provenance, part) for part in KEY_PART_NAMES))
    elsewhere = elsewhere.model_copy(
        update={"provenance": elsewhere.provenance.model_copy(update={"run_key": key.run_key})}
    )
    outside = folder / "outside"
    _write_run(outside / run_folder_name(result.spec, key.run_key), elsewhere.model_dump_json().encode(), predictions)
    cases: list[SurfaceCase] = []
    labels = list(RUN_FOLDER_TAMPERINGS)
    rng.shuffle(labels)  # the order the cases run in is the seed's
    for i, label in enumerate(labels):
        results = folder / "copies" / f"t{i}"
        shutil.copytree(valid, results, symlinks=True)
        RUN_FOLDER_TAMPERINGS[label](results / name, outside)
        refuse = label not in ADDS_A_FOLDER  # else the untouched run is rightly accepted, the added folder refused
        cases += [
            SurfaceCase("run folder", f"validate: {label}", ["validate", str(results)], refuse, lists=True),
            SurfaceCase(
                "run folder",
                f"report: {label}",
                ["report", "--results", str(results), "--out", str(folder / "reports" / f"r{i}")],
                refuse,
                lists=True,
            ),
            SurfaceCase(
                "run folder",
                f"export: {label}",
                ["export", "--results", str(results), "--out", str(folder / "exports" / f"e{i}.csv")],
                refuse,
            ),
        ]
    return cases + refusal_cases(valid, name, folder, data_dir)


KEY_PART_NAMES = ("spec_sha256", "dataset_sha256", "env_fingerprint", "code_sha256", "weights_sha256")


def _write_run(folder: Path, result_json: bytes, predictions: bytes) -> None:
    folder.mkdir(parents=True)
    (folder / "result.json").write_bytes(result_json)
    (folder / "predictions.parquet").write_bytes(predictions)
    (folder / "job.log").write_text("[job] done\n")


def refusal_cases(valid: Path, name: str, folder: Path, data_dir: Path) -> list[SurfaceCase]:
    """Items 4-8: each a one-line reason and exit 2, or the documented behaviour, nothing lost."""
    cases = [
        SurfaceCase(
            "refusals",
            "--block-length longer than the test period",
            ["report", "--results", str(valid), "--out", str(folder / "reports" / "long"), "--block-length", "100000"],
            lists=True,
        ),
        SurfaceCase(
            "refusals",
            "export --out over a finished run's predictions.parquet",
            ["export", "--results", str(valid), "--out", str(valid / name / "predictions.parquet")],
        ),
        SurfaceCase(
            "refusals",
            "export --out over a dataset file",
            ["export", "--results", str(valid), "--out", str(data_dir / "sp500.parquet")],
        ),
    ]
    nested = folder / "nested"
    (nested / name).mkdir(parents=True)
    (nested / name / "result.json").write_text('{"spec": ' + "[" * 100_000 + "]" * 100_000 + "}")
    failed = nested / "_failed" / f"{name}-20260101T000000000000"
    failed.mkdir(parents=True)
    (failed / "failure.json").write_text('{"slug": ' + "[" * 100_000 + "]" * 100_000 + "}")
    for command in (["status"], ["list"], ["plan", "logreg-h1", "--json"]):  # documented: listed as unreadable/invalid
        cases.append(
            SurfaceCase(
                "refusals",
                f"{command[0]}: result.json and failure.json nested 100000 deep",
                command,
                must_refuse=False,
                env={"ORCH_RESULTS_DIR": str(nested)},
            )
        )
    cases.append(SurfaceCase("refusals", "validate: nested result.json", ["validate", str(nested)], lists=True))
    a_file = folder / "a-file"
    a_file.write_text("")
    cases.append(
        SurfaceCase("refusals", "status: ORCH_RESULTS_DIR is a file", ["status"], env={"ORCH_RESULTS_DIR": str(a_file)})
    )
    cases.append(
        SurfaceCase(
            "refusals",
            "run: ORCH_CACHE_DIR cannot be written",
            ["run", "logreg-h1", "--executor", "native", "--force"],
            env={"ORCH_CACHE_DIR": str(a_file / "cache"), "ORCH_RESULTS_DIR": str(folder / "run-results")},
            lists=True,
        )
    )
    linked = folder / "linked-failed"
    (linked).mkdir()
    (linked / "_failed").symlink_to(valid, target_is_directory=True)
    cases.append(
        SurfaceCase(
            "refusals",
            "status: _failed is a link out of the results folder",
            ["status"],
            must_refuse=False,
            env={"ORCH_RESULTS_DIR": str(linked)},
        )
    )
    empty_project = folder / "empty-project"
    empty_project.mkdir()
    cases.append(
        SurfaceCase(
            "refusals",
            "plan where no dataset is built yet",
            ["plan", "logreg-h1", "--json"],
            must_refuse=False,
            env={"ORCH_DATA_DIR": str(empty_project / "data"), "ORCH_RESULTS_DIR": str(empty_project / "results")},
            check=lambda: f"wrote {tree_digest(empty_project)}" if tree_digest(empty_project) else None,
        )
    )
    return cases + data_build_cases(folder)


def data_build_cases(folder: Path) -> list[SurfaceCase]:
    """`orch data build` with two columns named Close/close, CR-only line ends, a --name ending in a newline."""
    source = folder / "csv"
    source.mkdir()
    rows = base_rows()
    (source / "both-close.csv").write_bytes(to_bytes([*HEADER, "close"], [[*row, row[4]] for row in rows]))
    (source / "cr-only.csv").write_bytes(to_bytes(HEADER, rows).replace(b"\n", b"\r"))
    (source / "plain.csv").write_bytes(to_bytes(HEADER, rows))
    out = ["--out", str(folder / "built"), *BUILD_ARGS]
    return [
        SurfaceCase(
            "refusals",
            "data build: Close and close",
            ["data", "build", "--csv", str(source / "both-close.csv"), "--name", "x", *out],
        ),
        SurfaceCase(
            "refusals",
            "data build: CR-only line ends (read as lines)",
            ["data", "build", "--csv", str(source / "cr-only.csv"), "--name", "cr", *out],
            must_refuse=False,
        ),
        SurfaceCase(
            "refusals",
            "data build: --name with a trailing newline",
            ["data", "build", "--csv", str(source / "plain.csv"), "--name", "fuzz\n", *out],
        ),
        SurfaceCase(
            "refusals",
            "data build: no positive label in any split (warned)",
            ["data", "build", "--csv", str(source / "plain.csv"), "--name", "none", "--threshold", "0.5", *out],
            must_refuse=False,
        ),
    ]


class _RunsCode:
    """Pickled as a call of os.system: what a hostile checkpoint holds."""

    def __reduce__(self):
        return os.system, ("echo pwned",)


def weights_identity_cases(folder: Path, weights_dir: Path) -> list[SurfaceCase]:
    """Items 9-10: an imported checkpoint's pickle is never run; files that are not the published
    checkpoint install as `custom`, never `pretrained <hub id>`."""
    import torch

    from jobs.timer import weights as timer_weights
    from jobs.timer.model import TimerConfig
    from tests.support.checkpoints import save_lag_llama_checkpoint

    folder.mkdir(parents=True, exist_ok=True)
    hostile = folder / "hostile" / "lag-llama.ckpt"
    save_lag_llama_checkpoint(hostile)
    state = torch.load(hostile, weights_only=True)
    torch.save({**state, "hyper_parameters": {"loss": _RunsCode()}}, hostile)
    reshaped = folder / "reshaped" / "lag-llama.ckpt"
    save_lag_llama_checkpoint(reshaped)
    state = torch.load(reshaped, weights_only=True)
    state["state_dict"]["model.transformer.wte.weight"] = torch.zeros(144, 93)
    torch.save(state, reshaped)
    small = timer_weights.write_random_init(
        folder / "small-timer",
        TimerConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2),
    )
    (small / "weights.json").unlink()

    def installed_as_custom(model_dir: str) -> Callable[[], str | None]:
        def check() -> str | None:
            manifest = json.loads((weights_dir / model_dir / "weights.json").read_text())
            return None if manifest["kind"] == "custom" and manifest["hub_id"] is None else f"installed as {manifest}"

        return check

    def case(label: str, name: str, path: Path, must_refuse: bool, check=None) -> SurfaceCase:
        args = ["weights", "import", name, str(path), "--revision", "0" * 40]
        return SurfaceCase("weights identity", label, args, must_refuse, check=check)

    return [
        case("Lag-Llama checkpoint whose pickle calls os.system", "lag-llama", hostile, True),
        case("Lag-Llama with one tensor reshaped", "lag-llama", reshaped, False, installed_as_custom("lagllama")),
        case("random 2-layer width-32 Timer as timer-base-84m", "timer", small, False, installed_as_custom("timer")),
    ]
