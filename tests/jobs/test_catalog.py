"""Issue 23 item 1: one model catalog (jobs/catalog.py) from which the job table, the matrix, the
`--set` checks, the plan's families, `orch list`, compose and the README's model list are derived;
every run key the matrix had before the catalog is unchanged; a new entry shows up everywhere and
re-keys nothing else. Issue 22 item 5: the `pretraining-overlap` flag."""

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from jobs import catalog
from jobs.registry import ENTRYPOINTS, resolve
from orchestrator import registry
from orchestrator.report import plan
from orchestrator.report.load import (
    model_family,
    pretraining_overlap,
)
from tests.support.helpers import REPO
from tests.support.run_key_matrix import matrix

FIXTURE = REPO / "tests" / "fixtures" / "run_key_matrix.json"


# -- every run key's registry-made parts are those of the code before the catalog ------------------------
def test_the_whole_matrix_is_byte_identical_to_before_the_catalog():
    before = json.loads(FIXTURE.read_text())
    after = json.loads(json.dumps(matrix()))
    assert sorted(after) == sorted(before)
    for experiment_id, row in before.items():
        assert after[experiment_id]["runs"] == row["runs"], experiment_id  # canonical spec JSON + its sha256
        fields = after[experiment_id]["experiment"]
        assert fields == row["experiment"], experiment_id


def test_experiment_order_is_the_design_numbering():
    prefixes = [e.id.split("-")[0] for e in registry.EXPERIMENTS]
    assert prefixes == sorted(prefixes, key=["FD", "BL", "CT"].index)
    for prefix in ("FD", "BL", "CT"):
        numbers = [int(e.id.split("-")[1]) for e in registry.EXPERIMENTS if e.id.startswith(prefix)]
        assert numbers == list(range(1, len(numbers) + 1))


# -- derived tables -------------------------------------------------------------------------------------
def test_the_plan_families_are_those_the_plan_listed_by_hand():
    assert set(plan.FOUNDATION) == {
        "lagllama",
        "timesfm",
        "timer",
        "chronos2",
        "tirex2",
        "patchtstfm",
        "ttm",
        "tirexcls",
    }
    assert set(plan.SEED_FOUNDATION) == {"lagllama", "timesfm", "timer"}  # H1 as the seed registered it
    assert set(plan.FOUNDATION_2026) <= set(plan.FOUNDATION)  # every model of F26 can run
    assert set(plan.TRANSFORMERS) == {
        "patchtst",
        "patchtst-causal",
        "patchtst-200m",
        "itransformer",
        "informer",
        "autoformer",
        "fedformer",
        "etsformer",
        "crossformer",
        "armattn",
    }
    assert set(plan.NO_ATTENTION) == {"timemixer", "dlinear"}
    assert (plan.REFERENCE, plan.SAME_INPUT_CONTROL) == ("patchtst", "patchtst-high")


def test_every_job_entry_point_resolves_where_its_env_is_installed():
    """The catalog's "module:function" strings name real functions (torch and sklearn run here)."""
    for model, (env, target) in ENTRYPOINTS.items():
        if env in ("torch", "sklearn"):
            assert callable(resolve(model, env)), target
    assert model_family("timesfm") == "foundation" and model_family("timesfm-zeroshot") == "other"


@pytest.mark.parametrize(
    "broken, reason",
    [
        (lambda m: [m[0], m[0]], "duplicate name"),
        (lambda m: [m[0], catalog.Model(**{**vars(m[1]), "ids": m[0].ids})], "duplicate id"),
        (lambda m: [m[0], catalog.Model(**{**vars(m[1]), "slug_stem": m[0].slug_stem})], "duplicate slug stem"),
        (lambda m: [catalog.Model(**{**vars(m[0]), "ids": ("FD-01",)})], "1 ids for 2 horizons"),
        (lambda m: [catalog.Model(**{**vars(m[0]), "quick": {"num_samples": 0}})], "must be >= 1"),
        (lambda m: [catalog.Model(**{**vars(m[0]), "full": {"nope": 1}})], "not a declared hyperparameter"),
        (lambda m: [catalog.Model(**{**vars(m[0]), "entry": catalog.TORCH_JOB})], "needs an architecture"),
    ],
)
def test_a_broken_catalog_is_refused(broken, reason):
    models = list(catalog.MODELS)
    with pytest.raises(ValueError, match=reason):
        catalog.check_catalog(tuple(broken(models)) + tuple(models[2:]))


def test_readme_model_list_is_the_catalog():
    readme = (REPO / "README.md").read_text()
    start = readme.index("<!-- model-catalog:start")
    block = readme[readme.index("\n", start) + 1 : readme.index("<!-- model-catalog:end -->")]
    assert block == registry.model_list_markdown()


# -- Must show: a throw-away entry in a temporary copy of the catalog -----------------------------------
THROWAWAY = """    torch_model(name="throwaway", ids=("FD-37", "FD-38"), family="no-attention", role="no-attention",
                architecture=torch_module("dlinear", "DLinear"),
                settings={"window": whole(1, 64), "dropout": DROPOUT}, extra={"window": 4}),
)
# The plan's reference"""

# Loads the catalog from argv[1] in place of jobs/catalog.py, then reports what every consumer sees.
PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("jobs.catalog", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["jobs.catalog"] = module
spec.loader.exec_module(module)
from click.testing import CliRunner
from orchestrator.cli import cli
from orchestrator.commands.docker import render_compose, spec_template
from orchestrator.registry import BY_SLUG
from orchestrator.report import plan

def orch(*args):
    result = CliRunner().invoke(cli, list(args))
    return {"code": result.exit_code, "output": result.output}

print(json.dumps({
    "catalog_file": module.__file__,
    "list": json.loads(orch("list", "--json")["output"]),
    "keys": {row["id"]: row["run_key"] for row in json.loads(orch("plan", "--all", "--json")["output"])},
    "families": {"foundation": plan.FOUNDATION, "from_scratch": plan.FROM_SCRATCH, "no_attention": plan.NO_ATTENTION},
    "d4_subjects": [c.subject.models[0] for c in next(r for r in plan.PLAN if r.key == "D4").comparisons],
    "typo": orch("plan", "throwaway-h1", "--set", "windw=5"),
    "too_big": orch("plan", "throwaway-h1", "--set", "window=65"),
    "accepted": orch("plan", "throwaway-h1", "--set", "window=9", "--json"),
    "compose": render_compose(),
    "template": spec_template(BY_SLUG["throwaway-h1"]) if "throwaway-h1" in BY_SLUG else None,
}))
"""


def probe(catalog_file: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(catalog_file)], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_a_new_catalog_entry_appears_everywhere_and_rekeys_nothing_else(orch_home, tmp_path):
    source = (REPO / "jobs" / "catalog.py").read_text()
    original, extended = tmp_path / "original" / "catalog.py", tmp_path / "extended" / "catalog.py"
    for file, text in (
        (original, source),
        (extended, source.replace("\n)\n# The plan's reference", "\n" + THROWAWAY, 1)),
    ):
        file.parent.mkdir()
        file.write_text(text)
    assert extended.read_text() != source
    before, after = probe(original), probe(extended)
    assert after["catalog_file"] == str(extended)

    listed = {row["id"]: row for row in after["list"]}
    assert listed["FD-37"]["slug"] == "throwaway-h1" and listed["FD-38"]["horizon"] == 3
    assert listed["FD-37"]["role"] == "no-attention" and listed["FD-37"]["status"] == "ready"
    assert "throwaway" not in json.dumps(before["list"])
    assert "pre-training data to 2025-09-15" in listed["FD-03"]["note"] and listed["FD-05"]["note"] is None

    assert "throwaway" in after["families"]["no_attention"] and "throwaway" in after["families"]["from_scratch"]
    assert "throwaway" not in after["families"]["foundation"] and "throwaway" not in before["families"]["from_scratch"]
    assert after["d4_subjects"] == before["d4_subjects"]  # foundation-only rules keep their comparisons

    assert after["typo"]["code"] == 2 and "did you mean 'window'" in after["typo"]["output"]
    assert after["too_big"]["code"] == 2 and "'window' must be <= 64" in after["too_big"]["output"]
    assert after["accepted"]["code"] == 0, after["accepted"]["output"]
    assert json.loads(after["accepted"]["output"])[0]["id"] == "FD-37"

    assert "  throwaway-h1:" in after["compose"] and "fdinvest.experiment: FD-28" in after["compose"]
    assert "throwaway" not in before["compose"]
    assert after["template"]["spec"]["hyperparameters"] == {**catalog.TORCH_QUICK, "window": 4}

    assert set(after["keys"]) - set(before["keys"]) == {"FD-37", "FD-38"}
    assert {i: after["keys"][i] for i in before["keys"]} == before["keys"]  # no other run key changed
    assert (REPO / "jobs" / "catalog.py").read_text() == source  # no repository file was edited


def test_editing_one_entry_rekeys_only_that_model(tmp_path):
    from orchestrator.environments import ENVIRONMENTS, code_sha256

    torch = ENVIRONMENTS["torch"]
    before = {name: code_sha256(torch, name) for name in ("patchtst", "dlinear")}
    entry = catalog.BY_NAME["dlinear"]
    changed = catalog.Model(**{**vars(entry), "quick": {**entry.quick, "epochs": 5}})
    patched = dict(catalog.BY_NAME, dlinear=changed)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(catalog, "BY_NAME", patched)
        after = {name: code_sha256(torch, name) for name in ("patchtst", "dlinear")}
    assert after["patchtst"] == before["patchtst"] and after["dlinear"] != before["dlinear"]


# -- issue 22 item 5: pre-training overlap -------------------------------------------------------------------
def test_every_pretrained_model_names_its_corpora_and_cutoff():
    for model in catalog.MODELS:
        if model.weights is not None:
            facts = model.pretraining
            assert facts is not None and facts.corpora and facts.source, model.name
            assert facts.cutoff_published or "no cut-off published" in facts.note, model.name
    assert "UTSD" in " ".join(catalog.BY_NAME["timer"].pretraining.corpora)
    assert "Google Trends" in " ".join(catalog.BY_NAME["timesfm"].pretraining.corpora)


@pytest.mark.parametrize(
    "model, kind, starts, flagged",
    [
        ("timesfm", "pretrained", [dt.date(2017, 1, 1)], True),  # the bundled data's test years
        ("lagllama", "pretrained", [dt.date(2024, 2, 8)], True),  # starts on the cut-off day
        ("lagllama", "pretrained", [dt.date(2024, 2, 9)], False),  # after the cut-off: nothing seen
        ("timer", "pretrained", [dt.date(2025, 1, 1), dt.date(2020, 1, 1)], True),  # one fold is enough
        ("timer", "random-init", [dt.date(2017, 1, 1)], False),  # never pre-trained
        ("patchtst", "pretrained", [dt.date(2017, 1, 1)], False),  # no pre-training corpus at all
    ],
)
def test_pretraining_overlap(model, kind, starts, flagged):
    assert pretraining_overlap(model, kind, starts) is flagged
