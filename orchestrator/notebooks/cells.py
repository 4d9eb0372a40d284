"""The notebook's hand-written cells: what runs around the inlined job code.

These run in the notebook's kernel (Colab, or any Jupyter kernel with the env's stack), never on
the host. They read the generated constants (`GENERATED`) and the papermill parameters, and import
only the standard library, the env's pinned packages and the inlined bundle (`fdinvest_bundle/`).
The job itself runs through `jobs.common.runner.run_job`, the entry every executor uses.
"""

PARAMETERS = """\
# Parameters (papermill convention: this cell is tagged "parameters").
EXPERIMENT = {experiment!r}  # the experiment this notebook was generated for
PROFILE = {profile!r}  # "quick" (smoke-test sizes) or "full" (the study's sizes)
SEED = 0
DATA_URL = ""  # https:// URL or local path of {data_file}; empty: upload the file (Colab)
WEIGHTS_DIR = ""  # a weights folder laid out like `orch weights pull`; empty: download from the hub
HUB_REVISION = "main"  # hub branch, tag or commit of the published weights
OVERRIDES = {{}}  # hyper-parameter overrides, as `orch run --set KEY=VALUE`
"""

INSTALL = """\
# Install the environment's pinned requirements (plus the CUDA variant where a GPU is present).
import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

if EXPERIMENT != GENERATED["experiment"]["slug"]:
    raise ValueError(f"this notebook runs {GENERATED['experiment']['slug']!r}, not {EXPERIMENT!r}: "
                     f"generate one with `orch notebook {EXPERIMENT}`")
if PROFILE not in GENERATED["specs"]:
    raise ValueError(f"PROFILE must be one of {sorted(GENERATED['specs'])}, not {PROFILE!r}")


def gpu_present() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    return subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0


pins = dict(line.split("==", 1) for line in GENERATED["requirements"])
wanted = GENERATED["requirements"] + (GENERATED["cuda_extras"] if gpu_present() else [])
requirements_file = Path("fdinvest_requirements.txt")
requirements_file.write_text("\\n".join(wanted) + "\\n")
subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r",
                str(requirements_file)], check=True)
wrong = {name: importlib.metadata.version(name) for name, version in pins.items()
         if importlib.metadata.version(name) != version}
if wrong:
    raise RuntimeError(f"installed versions differ from the pins: {wrong}")
imported = importlib.metadata.packages_distributions()
stale = sorted({dist for module, dists in imported.items() if module in sys.modules for dist in dists
                if dist in pins and getattr(sys.modules[module], "__version__", pins[dist]) != pins[dist]})
if stale:
    raise RuntimeError(f"{stale} were imported before the install at other versions: restart the runtime "
                       "(Colab: Runtime > Restart session) and run all cells again")
print(f"{len(pins)} pinned packages installed" + (" + CUDA variant" if len(wanted) > len(pins) else ""))
"""

DATA = """\
# The dataset: download or upload the parquet, then check its MD5 and the manifest's sha256.
import hashlib
import json
import urllib.request

dataset = GENERATED["dataset"]
data_dir = Path("fdinvest_run") / "data"
data_dir.mkdir(parents=True, exist_ok=True)
parquet = data_dir / dataset["file"]
if DATA_URL.startswith(("http://", "https://")):
    urllib.request.urlretrieve(DATA_URL, parquet)
elif DATA_URL:
    shutil.copyfile(DATA_URL, parquet)
else:
    try:
        from google.colab import files
    except ImportError:
        raise ValueError(f"set DATA_URL to the URL or path of {dataset['file']} (uploading needs Colab)") from None
    uploaded = files.upload()
    if len(uploaded) != 1:
        raise ValueError(f"upload exactly one file: {dataset['file']}")
    parquet.write_bytes(next(iter(uploaded.values())))
content = parquet.read_bytes()
md5 = hashlib.md5(content).hexdigest()
if md5 != dataset["md5"]:
    raise ValueError(f"{parquet}: MD5 {md5} is not the dataset this notebook was generated for ({dataset['md5']})")
sha256 = hashlib.sha256(content).hexdigest()
if sha256 != dataset["manifest"]["sha256"]:
    raise ValueError(f"{parquet}: sha256 {sha256} does not match the manifest ({dataset['manifest']['sha256']})")
(data_dir / f"{dataset['manifest']['name']}.manifest.json").write_text(json.dumps(dataset["manifest"], indent=2))
print(f"{parquet}: {len(content)} bytes, MD5 and sha256 verified")
"""

BUNDLE_START = """\
# The job code is written to fdinvest_bundle/ by the cells below (generated from the repository).
BUNDLE = Path("fdinvest_bundle").resolve()
shutil.rmtree(BUNDLE, ignore_errors=True)
for name in GENERATED["code"]["files"]:
    (BUNDLE / name).parent.mkdir(parents=True, exist_ok=True)
"""

BUNDLE_IMPORT = """\
# Check the written code against the generated hashes, then import it (and nothing from elsewhere).
code_digest = hashlib.sha256()  # the host's code hash recipe (orchestrator/environments.py), over what was written
for name, expected in GENERATED["code"]["files"].items():
    content = (BUNDLE / name).read_bytes()
    if hashlib.sha256(content).hexdigest() != expected:
        raise RuntimeError(f"{name} was edited after generation: regenerate the notebook with `orch notebook`")
    if name != GENERATED["code"]["hashed_per_model"]:  # the catalog: only the model's own entry is hashed
        code_digest.update(name.encode() + b"\\0" + content + b"\\0")
code_sha256 = code_digest.hexdigest()
for module in [m for m in sys.modules if m.split(".")[0] in ("jobs", "shared_schema")]:
    del sys.modules[module]
sys.path.insert(0, str(BUNDLE))
import jobs
import shared_schema

for module in (jobs, shared_schema):
    if not Path(module.__file__).resolve().is_relative_to(BUNDLE):
        raise RuntimeError(f"{module.__name__} was imported from {module.__file__}, not from the bundle")
print(f"{len(GENERATED['code']['files'])} job files verified and importable from {BUNDLE}")
"""

WEIGHTS = """\
# Pretrained weights: a prepared folder (WEIGHTS_DIR), or the published checkpoint from the hub,
# laid out exactly as `orch weights pull` does (<dir>/<model>/weights.json + the hub files).
from jobs.common.weights import MANIFEST_FILE, sha256_file, verified_weights
from shared_schema import WeightsManifest

published = GENERATED["weights"]
weights_root = None
weights_sha256 = None
if published is not None:
    weights_root = Path(WEIGHTS_DIR) if WEIGHTS_DIR else Path("fdinvest_weights")
    folder = weights_root / published["model_dir"]
    if not WEIGHTS_DIR and not (folder / MANIFEST_FILE).is_file():
        from huggingface_hub import HfApi, snapshot_download

        commit = HfApi().model_info(published["hub_id"], revision=HUB_REVISION).sha
        snapshot_download(published["hub_id"], revision=commit, allow_patterns=published["patterns"], local_dir=folder)
        shutil.rmtree(folder / ".cache", ignore_errors=True)
        files = {path.relative_to(folder).as_posix(): sha256_file(path)
                 for path in sorted(folder.rglob("*")) if path.is_file()}
        manifest = WeightsManifest(model=published["model_dir"], kind="pretrained", hub_id=published["hub_id"],
                                   revision=commit, files=files)
        (folder / MANIFEST_FILE).write_text(manifest.model_dump_json(indent=2) + "\\n")
    _, weights_manifest = verified_weights(weights_root, published["model_dir"], published["label"],
                                           published["pull_command"])
    weights_sha256 = sha256_file(folder / MANIFEST_FILE)
    print(f"weights: {weights_manifest.kind} {weights_manifest.hub_id or ''}@{weights_manifest.revision or '-'}, "
          f"{len(weights_manifest.files)} file(s) verified")
else:
    print("this model trains from scratch: no pretrained weights")
"""

RUN = """\
# Train and evaluate through the job runner every executor uses.
import datetime as dt
import json

from jobs.common.runner import run_job
from shared_schema import ExperimentSpec

spec_data = dict(GENERATED["specs"][PROFILE], seed=SEED)
spec_data["hyperparameters"] = {**spec_data["hyperparameters"], **OVERRIDES}
spec = ExperimentSpec.model_validate(spec_data)
out_dir = Path("fdinvest_run") / "out"
shutil.rmtree(out_dir, ignore_errors=True)
out_dir.mkdir(parents=True)
spec_file = out_dir / "spec.json"
spec_file.write_text(spec.model_dump_json(indent=2))
started_at = dt.datetime.now(dt.timezone.utc)
result = run_job(spec_file, data_dir, out_dir, weights_root)
finished_at = dt.datetime.now(dt.timezone.utc)
spec_file.unlink()
"""

EXPORT = """\
# Export result.json + predictions.parquet in the shared schema, with the notebook's provenance.
import os
import platform
import zipfile

import pyarrow.parquet as pq

from jobs.common.io import PREDICTIONS_FILE, RESULT_FILE, write_outputs
from shared_schema import Provenance


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def hardware_seen() -> str:
    parts = [platform.platform(), f"{os.cpu_count()} CPUs", f"device used: {result.environment.device}"]
    if shutil.which("nvidia-smi"):
        gpus = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                              capture_output=True, text=True).stdout.strip()
        parts.append("GPU: " + "; ".join(gpus.splitlines()) if gpus else "no GPU")
    else:
        parts.append("no GPU")
    if "google.colab" in sys.modules:
        parts.insert(0, "Google Colab")
    return ", ".join(parts)


# The run key, by the host's own code (shared_schema/identity.py, bundled); `orch ingest` checks it.
from jobs.catalog import job_identity
from shared_schema.identity import KeyParts, canonical_spec_json, model_code_sha256

model_code = model_code_sha256(code_sha256, job_identity(spec.model))  # as orchestrator.environments.code_sha256
spec_sha256 = sha256_text(canonical_spec_json(spec))
env_fingerprint = (f"notebook-{GENERATED['environment_lock']}-py{sys.version_info.major}.{sys.version_info.minor}"
                   f"-{platform.system()}-{platform.machine()}")
key_parts = KeyParts(spec_sha256, sha256, env_fingerprint, model_code, weights_sha256)
provenance = Provenance(
    run_key=key_parts.run_key, spec_sha256=spec_sha256, dataset_sha256=sha256,
    env_fingerprint=env_fingerprint, code_sha256=model_code, weights_sha256=weights_sha256,
    git_commit=GENERATED["orch"]["git_commit"], git_dirty=GENERATED["orch"]["git_dirty"], executor="notebook",
    host_platform=hardware_seen(), wall_seconds=(finished_at - started_at).total_seconds(),
    started_at=started_at, finished_at=finished_at,
)
stamped = result.model_copy(update={"provenance": provenance})
write_outputs(out_dir, stamped, pq.read_table(out_dir / PREDICTIONS_FILE))
archive = Path("fdinvest_run") / f"{spec.slug}-s{spec.seed}-notebook.zip"
with zipfile.ZipFile(archive, "w") as bundle:
    for name in (RESULT_FILE, PREDICTIONS_FILE):
        bundle.write(out_dir / name, name)
test_auc = stamped.metrics["test"].auc
print(f"{spec.slug} seed {spec.seed}: test AUC {test_auc if test_auc is None else round(test_auc, 4)}; "
      f"{provenance.host_platform}")
if stamped.weights.kind == "random-init":
    print("random-init weights: a smoke test of the pipeline, not a finding")
print(f"wrote {archive}: run `orch ingest {archive.name}` on the host")
if "google.colab" in sys.modules:
    from google.colab import files

    files.download(str(archive))
"""
