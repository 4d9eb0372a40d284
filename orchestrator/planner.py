"""Decides, per run (experiment x seed x fold), whether to run or skip it, and says why."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from orchestrator.registry import Experiment, Profile
from orchestrator.results import FailureRecord, ResultStore, StoredResult
from orchestrator.runs import PlannedRun, dataset_folds, plan_runs, weights_manifest_sha256
from shared_schema import DatasetManifest, JobResult
from shared_schema.identity import EnvironmentIdentity

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

    newest: dict[tuple[str, int, int | None], JobResult]  # (slug, seed, fold) -> newest finished result
    last_failure: dict[str, FailureRecord]  # run key -> its latest failure

    @classmethod
    def read(cls, store: ResultStore) -> "History":
        newest = {
            (s.result.spec.slug, s.result.spec.seed, s.result.spec.fold): s.result
            for s in store.finished()
            if s.result.provenance
        }
        return cls(newest, {record.run_key: record for record in store.failures() if isinstance(record, FailureRecord)})


def stale_reasons(run: PlannedRun, history: History) -> list[str]:
    """Why the newest earlier result for the same experiment, seed and fold no longer counts."""
    earlier = history.newest.get((run.spec.slug, run.spec.seed, run.spec.fold))
    if earlier is None:
        return []
    old = earlier.provenance
    reasons = []
    if old.spec_sha256 != run.key.spec_sha256:
        reasons.append("spec changed")
    if old.dataset_sha256 != run.key.dataset_sha256:
        reasons.append("data changed")
    if old.env_fingerprint != run.key.env_fingerprint:
        reasons.append(environment_change(old.env_fingerprint, run.key.env_fingerprint))
    if old.code_sha256 != run.key.code_sha256:
        reasons.append("code changed")
    if old.weights_sha256 != run.key.weights_sha256:
        reasons.append("weights changed")
    return reasons


def environment_change(old: str, new: str) -> str:
    """'environment changed (what, old -> new)', and the flag that reuses a result when only the
    Python or platform differs (same pins: e.g. a native run on macOS planned for Docker)."""
    old_id, new_id = EnvironmentIdentity.parse(old), EnvironmentIdentity.parse(new)
    if old_id is None or new_id is None:
        return "environment changed"
    text = f"environment changed ({', '.join(new_id.changes_from(old_id))})"
    return text + "; same pins: --reuse-across-executors reuses it" if new_id.same_pins(old_id) else text


def reusable_elsewhere(run: PlannedRun, store: ResultStore) -> StoredResult | None:
    """The newest finished result with this run's spec, data, code and weights, made with the same
    pins on another Python or platform (what --reuse-across-executors accepts)."""
    mine = EnvironmentIdentity.parse(run.key.env_fingerprint)
    if mine is None:
        return None
    for stored in reversed(store.finished()):
        old = stored.result.provenance
        theirs = EnvironmentIdentity.parse(old.env_fingerprint) if old else None
        if (
            theirs is not None
            and theirs.same_pins(mine)
            and stored.result.spec.seed == run.spec.seed
            and (old.spec_sha256, old.dataset_sha256, old.code_sha256, old.weights_sha256)
            == (run.key.spec_sha256, run.key.dataset_sha256, run.key.code_sha256, run.key.weights_sha256)
        ):
            return stored
    return None


def decide(run: PlannedRun, store: ResultStore, history: History, *, force: bool, reuse_across: bool) -> Decision:
    experiment = run.experiment
    if experiment.unavailable is not None:
        return Decision(
            experiment, run, "unavailable", f"{experiment.unavailable.status}: {experiment.unavailable.reason}"
        )
    if not experiment.implemented:
        return Decision(experiment, run, "unavailable", f"no job for model {experiment.model!r} yet")
    if experiment.weights and run.key.weights_sha256 is None:
        return Decision(
            experiment,
            run,
            "unavailable",
            f"needs pretrained weights: run `orch weights pull {experiment.weights}` (online), "
            f"or `orch weights import {experiment.weights} PATH` with a downloaded copy",
        )
    cached, problem = store.lookup(run)
    if cached is not None and not force:
        auc = cached.metrics["val"].auc  # blind mode: test metrics only in `orch report`
        return Decision(
            experiment, run, "skip", f"cached ({run.folder_name}, val AUC {auc:.3f})" if auc is not None else "cached"
        )
    if force:
        return Decision(experiment, run, "run", "forced")
    if problem is not None:
        return Decision(experiment, run, "run", f"invalid result ({run.folder_name}: {problem[:120]})")
    elsewhere = reusable_elsewhere(run, store) if reuse_across else None
    if elsewhere is not None:
        old = elsewhere.result.provenance
        changes = (
            ", ".join(
                EnvironmentIdentity.parse(run.key.env_fingerprint).changes_from(
                    EnvironmentIdentity.parse(old.env_fingerprint)
                )
            )
            or "same environment"
        )
        return Decision(
            experiment,
            run,
            "skip",
            f"cached from a {old.executor} run ({elsewhere.folder.name}; {changes}; --reuse-across-executors)",
        )
    failure = history.last_failure.get(run.key.run_key)
    if failure is not None:
        return Decision(experiment, run, "run", f"previous run failed ({failure.kind}: {failure.reason[:80]})")
    reasons = stale_reasons(run, history)
    if reasons:
        return Decision(experiment, run, "run", ", ".join(reasons))
    return Decision(experiment, run, "run", "missing (never run)")


def decide_runs(
    *,
    experiments: list[Experiment],
    manifest: DatasetManifest,
    profile: Profile,
    seeds: Sequence[int],
    store: ResultStore,
    fingerprint: Callable[[str], str],
    force: bool,
    overrides: dict,
    weights_dir: Path | None,
    reuse_across: bool,
) -> list[Decision]:
    """One decision (run, skip or unavailable, and why) per run of every experiment, seed and fold.
    `fingerprint(env)` is asked once per env, and only for envs with a runnable experiment: it may
    run an existing interpreter to read its packages, which is wasted on experiments that cannot run
    (no executor builds anything to answer it: `orch plan` never builds)."""
    fingerprints: dict[str, str] = {}
    history = History.read(store)
    decisions = []
    for experiment in experiments:
        runnable = experiment.implemented and not (
            experiment.weights and (weights_dir is None or weights_manifest_sha256(experiment, weights_dir) is None)
        )
        if runnable and experiment.env not in fingerprints:
            fingerprints[experiment.env] = fingerprint(experiment.env)
        env_fingerprint = fingerprints[experiment.env] if runnable else "not-runnable"
        for fold in dataset_folds(manifest):
            for run in plan_runs(
                experiment,
                manifest,
                profile,
                seeds,
                env_fingerprint=env_fingerprint,
                overrides=overrides,
                weights_dir=weights_dir,
                fold=fold,
            ):
                decisions.append(decide(run, store, history, force=force, reuse_across=reuse_across))
    return decisions
