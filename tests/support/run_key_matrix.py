"""The whole experiment matrix as the parts of its run keys that the registry decides: per
experiment x profile x split (single, one walk-forward fold), the canonical spec JSON and its
sha256, plus every registry field of the experiment. `tests/fixtures/run_key_matrix.json` was
written by this module from the code *before* the model catalog existed (`python -m
tests.support.run_key_matrix > tests/fixtures/run_key_matrix.json`), so a test can compare the matrix
before and after byte for byte. The dataset and environment parts of a key do not come from the
registry; the code part changes with any job-code edit and is left out on purpose."""

import dataclasses
import datetime as dt
import json
from types import SimpleNamespace

from orchestrator import registry
from orchestrator.runs import make_spec
from shared_schema import SplitDates
from shared_schema.identity import canonical_spec_json, sha256_text

FIXTURE_FIELDS = (
    "id",
    "slug",
    "model",
    "env",
    "horizon",
    "family",
    "hyperparameters",
    "resources",
    "context_length",
    "weights",
    "unavailable",
    "note",
)
SINGLE = SplitDates(train_end=dt.date(2015, 1, 1), val_end=dt.date(2017, 1, 1))
FOLD = SimpleNamespace(split_dates=SplitDates(train_end=dt.date(2012, 1, 1), val_end=dt.date(2013, 1, 1)))
MANIFEST = SimpleNamespace(name="sp500", sha256="0" * 64, threshold=0.01, split_dates=SINGLE, folds=[FOLD])


def experiment_fields(experiment) -> dict:
    return json.loads(json.dumps({name: _plain(getattr(experiment, name)) for name in FIXTURE_FIELDS}))


def _plain(value):
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value


def matrix(experiments=None) -> dict[str, dict]:
    rows = {}
    for experiment in experiments if experiments is not None else registry.EXPERIMENTS:
        runs = {}
        for profile in ("quick", "full"):
            for fold in (None, 0):
                spec = make_spec(experiment, MANIFEST, profile, registry.DEFAULT_SEED, fold=fold)
                text = canonical_spec_json(spec)
                runs[f"{profile}/{'single' if fold is None else f'fold{fold}'}"] = {
                    "spec": text,
                    "spec_sha256": sha256_text(text),
                }
        rows[experiment.id] = {"experiment": experiment_fields(experiment), "runs": runs}
    return rows


if __name__ == "__main__":
    print(json.dumps(matrix(), indent=1, sort_keys=True))
