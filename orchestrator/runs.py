"""A planned run: the concrete spec for one experiment, its cache key and its results folder."""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator.environments import ENVIRONMENTS, Environment, code_sha256
from orchestrator.fsutil import sha256_file
from orchestrator.registry import DEFAULT_SEED, Experiment, Profile
from shared_schema import DatasetManifest, DatasetRef, ExperimentSpec
from shared_schema.identity import KeyParts, canonical_spec_json, run_folder_name, sha256_text


@dataclass(frozen=True)
class PlannedRun:
    experiment: Experiment
    spec: ExperimentSpec
    environment: Environment
    key: KeyParts

    @property
    def folder_name(self) -> str:
        return run_folder_name(self.spec, self.key.run_key)


def dataset_folds(manifest: DatasetManifest) -> list[int | None]:
    """The folds every experiment runs on: [None] for a single split, 0..K-1 for walk-forward."""
    return [fold.index for fold in manifest.folds] or [None]


def make_spec(
    experiment: Experiment,
    manifest: DatasetManifest,
    profile: Profile,
    seed: int,
    *,
    overrides: dict | None = None,
    fold: int | None = None,
) -> ExperimentSpec:
    return ExperimentSpec(
        id=experiment.id,
        slug=experiment.slug,
        model=experiment.model,
        env=experiment.env,
        horizon=experiment.horizon,
        threshold=manifest.threshold,
        context_length=experiment.context_length,
        split_dates=manifest.split_dates if fold is None else manifest.folds[fold].split_dates,
        fold=fold,
        dataset=DatasetRef(name=manifest.name, sha256=manifest.sha256),
        seed=seed,
        profile=profile,
        hyperparameters={**experiment.params(profile), **(overrides or {})},
    )


def weights_manifest_sha256(experiment: Experiment, weights_dir: Path) -> str | None:
    """Identity of the pretrained weights an experiment would load; None if absent or not needed."""
    if experiment.weights is None:
        return None
    from orchestrator.weights import PUBLISHED

    file = weights_dir / PUBLISHED[experiment.weights].model_dir / "weights.json"
    return sha256_file(file) if file.is_file() else None


def plan_runs(
    experiment: Experiment,
    manifest: DatasetManifest,
    profile: Profile,
    seeds: Sequence[int],
    *,
    env_fingerprint: str,
    overrides: dict | None = None,
    weights_dir: Path | None = None,
    fold: int | None = None,
) -> list[PlannedRun]:
    """One planned run per seed. What does not depend on the seed (the code and weights hashes,
    the spec's validation) is done once, so planning costs O(experiments), not O(seeds) hashing."""
    template = make_spec(experiment, manifest, profile, DEFAULT_SEED, overrides=overrides, fold=fold)
    environment = ENVIRONMENTS[experiment.env]
    code = code_sha256(environment, experiment.model)
    weights = weights_manifest_sha256(experiment, weights_dir) if weights_dir else None
    runs = []
    for seed in seeds:
        spec = template.model_copy(update={"seed": seed})
        key = KeyParts(
            spec_sha256=sha256_text(canonical_spec_json(spec)),
            dataset_sha256=manifest.sha256,
            env_fingerprint=env_fingerprint,
            code_sha256=code,
            weights_sha256=weights,
        )
        runs.append(PlannedRun(experiment, spec, environment, key))
    return runs


def plan_run(
    experiment: Experiment,
    manifest: DatasetManifest,
    profile: Profile,
    seed: int,
    *,
    env_fingerprint: str,
    overrides: dict | None = None,
    weights_dir: Path | None = None,
    fold: int | None = None,
) -> PlannedRun:
    return plan_runs(
        experiment,
        manifest,
        profile,
        [seed],
        env_fingerprint=env_fingerprint,
        overrides=overrides,
        weights_dir=weights_dir,
        fold=fold,
    )[0]
