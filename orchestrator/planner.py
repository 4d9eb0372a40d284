"""Decides, per experiment, whether to run or skip it, and says why."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from orchestrator.registry import Experiment, Profile
from orchestrator.results import FailureRecord, ResultStore
from orchestrator.runs import PlannedRun, plan_runs, weights_manifest_sha256
from shared_schema import DatasetManifest, JobResult

Action = Literal["run", "skip", "unavailable"]


@dataclass(frozen=True)
class Decision:
    experiment: Experiment
    run: PlannedRun
    action: Action
    reason: str


@dataclass(frozen=True)
class History:
    """What the results folder says about earlier runs, read once per plan instead of once per seed."""

    newest: dict[tuple[str, int], JobResult]  # (slug, seed) -> newest finished result with provenance
    last_failure: dict[str, FailureRecord]  # run key -> its latest failure

    @classmethod
    def read(cls, store: ResultStore) -> "History":
        newest = {(s.result.spec.slug, s.result.spec.seed): s.result for s in store.finished() if s.result.provenance}
        return cls(newest, {record.run_key: record for record in store.failures()})


def stale_reasons(run: PlannedRun, history: History) -> list[str]:
    """Why the newest earlier result for the same experiment and seed no longer counts."""
    earlier = history.newest.get((run.spec.slug, run.spec.seed))
    if earlier is None:
        return []
    old = earlier.provenance
    reasons = []
    if old.spec_sha256 != run.key.spec_sha256:
        reasons.append("spec changed")
    if old.dataset_sha256 != run.key.dataset_sha256:
        reasons.append("data changed")
    if old.env_fingerprint != run.key.env_fingerprint:
        reasons.append("environment changed")
    if old.code_sha256 != run.key.code_sha256:
        reasons.append("code changed")
    if old.weights_sha256 != run.key.weights_sha256:
        reasons.append("weights changed")
    return reasons


def decide(run: PlannedRun, store: ResultStore, history: History, force: bool) -> Decision:
    experiment = run.experiment
    if not experiment.implemented:
        return Decision(experiment, run, "unavailable", f"no job for model {experiment.model!r} yet")
    if experiment.weights and run.key.weights_sha256 is None:
        return Decision(experiment, run, "unavailable",
                        f"needs pretrained weights: run `orch weights pull {experiment.weights}` (online), "
                        "or place a checkpoint in the weights cache")
    cached = store.cached(run)
    if cached is not None and not force:
        auc = cached.metrics["test"].auc
        return Decision(experiment, run, "skip", f"cached ({run.folder_name}, test AUC {auc:.3f})" if auc is not None else "cached")
    if force:
        return Decision(experiment, run, "run", "forced")
    failure = history.last_failure.get(run.key.run_key)
    if failure is not None:
        return Decision(experiment, run, "run", f"previous run failed ({failure.kind}: {failure.reason[:80]})")
    reasons = stale_reasons(run, history)
    if reasons:
        return Decision(experiment, run, "run", ", ".join(reasons))
    return Decision(experiment, run, "run", "missing (never run)")


def make_plan(experiments: list[Experiment], manifest: DatasetManifest, profile: Profile, seeds: Sequence[int],
              store: ResultStore, fingerprint: Callable[[str], str], force: bool = False,
              overrides: dict | None = None, weights_dir: Path | None = None) -> list[Decision]:
    """`fingerprint(env)` is asked once per env, and only for envs with a runnable experiment:
    for Docker it may build the image, which is wasted on experiments that cannot run."""
    fingerprints: dict[str, str] = {}
    history = History.read(store)
    decisions = []
    for experiment in experiments:
        runnable = experiment.implemented and not (
            experiment.weights and (weights_dir is None or weights_manifest_sha256(experiment, weights_dir) is None))
        if runnable and experiment.env not in fingerprints:
            fingerprints[experiment.env] = fingerprint(experiment.env)
        env_fingerprint = fingerprints[experiment.env] if runnable else "not-runnable"
        for run in plan_runs(experiment, manifest, profile, seeds, env_fingerprint, overrides, weights_dir):
            decisions.append(decide(run, store, history, force))
    return decisions
