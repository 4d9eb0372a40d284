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
    """One hostile command line; `must_refuse` = exit 0 would be silent acceptance."""

    surface: str
    label: str
    args: list[str]
    must_refuse: bool = True


def run_surface_cases(
    cases: list[SurfaceCase], stored: Callable[[], list[str]], escaped: Callable[[], list[str]]
) -> list[tuple[SurfaceCase, str, str]]:
    """Each case through the CLI; `stored` lists what a refused case must not leave behind (run
    folders, staging, installed weights) and `escaped` what no case may ever write (outside paths)."""
    runner = CliRunner()
    results = []
    for case in cases:
        before = stored()
        invoked = runner.invoke(cli, case.args)
        outcome, detail = classify(invoked, case.must_refuse)
        if "Traceback" in invoked.output:
            outcome, detail = "traceback", invoked.output[-300:]
        if (invoked.exit_code != 0 and stored() != before) or escaped():
            outcome, detail = "data loss", f"left {sorted(set(stored()) - set(before))}, wrote outside {escaped()}"
        results.append((case, outcome, detail))
    return results


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
