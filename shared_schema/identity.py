"""Run identity: what a run key is made of, computed the same way by the host (`orch`) and by the
host-less compose wrapper (compose/run.py, inside an image), so the two cannot disagree.

A run key hashes the spec (without its dataset reference), the dataset sha256, the environment
identity, the job code hash (the env's job code plus the model's catalog entry) and the weights
manifest hash. The environment identity is the env's
lock hash (its pinned requirements) + Python major.minor + platform, plus a hash of the differences
when an existing interpreter does not match the pins. The same pins on the same Python and
platform give the same key whichever executor ran the job (native venv, Docker, compose); an image
ID is provenance, not identity. Standard library only.
"""

import hashlib
import json
import platform as platform_module
import sys
from dataclasses import dataclass
from pathlib import Path

FINGERPRINT_PREFIX = "lock-"
_MACHINES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def canonical_spec_json(spec) -> str:
    """The spec without its dataset reference: the dataset is a key part of its own, so a rebuilt
    dataset reads as 'data changed', not also 'spec changed'. A single-split spec leaves out its
    empty fold, so results made before walk-forward folds existed keep their keys. `spec` is an
    ExperimentSpec."""
    excluded = {"dataset"} | ({"fold"} if getattr(spec, "fold", None) is None else set())
    return json.dumps(spec.model_dump(mode="json", exclude=excluded), sort_keys=True, separators=(",", ":"))


def code_sha256(root: Path, entries: list[str] | tuple[str, ...]) -> str:
    """Hash of every Python file under `entries` (paths relative to `root`): content and relative path."""
    digest = hashlib.sha256()
    for entry in entries:
        path = root / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.exists() else []
        for file in files:
            digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def model_code_sha256(env_code_sha256: str, model_identity: str) -> str:
    """The run key's code part: the env's job code, plus the model's own catalog entry
    (`jobs.catalog.job_identity`). The catalog file itself is not hashed, so adding or editing one
    model's entry re-keys that model only."""
    return sha256_text(f"{env_code_sha256}|{model_identity}")


def lock_hash(requirements: bytes) -> str:
    return hashlib.sha256(requirements).hexdigest()[:16]


def platform_name(system: str | None = None, machine: str | None = None) -> str:
    """Docker's spelling (linux/amd64, darwin/arm64), so a venv and an image on one host agree."""
    system = (system or platform_module.system()).lower()
    machine = (machine or platform_module.machine()).lower()
    return f"{system}/{_MACHINES.get(machine, machine)}"


def python_version(version_info=sys.version_info) -> str:
    return f"{version_info[0]}.{version_info[1]}"


@dataclass(frozen=True)
class EnvironmentIdentity:
    lock: str  # lock_hash of the env's requirements.txt
    python: str  # "3.11"
    platform: str  # "linux/amd64"
    differences: str | None = None  # hash of the installed-vs-pinned differences, None when there are none

    @property
    def fingerprint(self) -> str:
        text = f"{FINGERPRINT_PREFIX}{self.lock}:py{self.python}:{self.platform}"
        return text + (f":diff-{self.differences}" if self.differences else "")

    @classmethod
    def parse(cls, fingerprint: str) -> "EnvironmentIdentity | None":
        """None for fingerprints of another format (results from older versions)."""
        parts = fingerprint.split(":")
        if not fingerprint.startswith(FINGERPRINT_PREFIX) or len(parts) not in (3, 4) or not parts[1].startswith("py"):
            return None
        differences = parts[3].removeprefix("diff-") if len(parts) == 4 else None
        return cls(parts[0][len(FINGERPRINT_PREFIX) :], parts[1][2:], parts[2], differences)

    def same_pins(self, other: "EnvironmentIdentity") -> bool:
        """Same pinned packages, all installed as pinned: only Python and/or platform may differ."""
        return self.lock == other.lock and self.differences is None and other.differences is None

    def changes_from(self, old: "EnvironmentIdentity") -> list[str]:
        """What differs, old -> new, in words."""
        changes = []
        if old.lock != self.lock:
            changes.append("pins changed")
        if old.python != self.python:
            changes.append(f"python {old.python} -> {self.python}")
        if old.platform != self.platform:
            changes.append(f"platform {old.platform} -> {self.platform}")
        if old.differences != self.differences:
            changes.append(
                "installed packages differ from the pins"
                if self.differences
                else "earlier run's packages differed from the pins"
            )
        return changes


def environment_identity(
    requirements: bytes, python: str, platform: str, differences: dict[str, str] | None = None
) -> EnvironmentIdentity:
    digest = sha256_text(json.dumps(sorted(differences.items())))[:8] if differences else None
    return EnvironmentIdentity(lock_hash(requirements), python, platform, digest)


@dataclass(frozen=True)
class KeyParts:
    """What a run key is made of; comparing parts tells *why* a cached result is stale."""

    spec_sha256: str
    dataset_sha256: str
    env_fingerprint: str
    code_sha256: str
    weights_sha256: str | None  # sha256 of the weights.json the job will load; None when none is needed

    @property
    def run_key(self) -> str:
        parts = [
            self.spec_sha256,
            self.dataset_sha256,
            self.env_fingerprint,
            self.code_sha256,
            self.weights_sha256 or "-",
        ]
        return sha256_text("|".join(parts))


def run_folder_name(spec, run_key: str) -> str:
    """<slug>[-f<fold>]-s<seed>-<key12>: the fold only for walk-forward specs."""
    fold = getattr(spec, "fold", None)
    return f"{spec.slug}{'' if fold is None else f'-f{fold}'}-s{spec.seed}-{run_key[:12]}"
