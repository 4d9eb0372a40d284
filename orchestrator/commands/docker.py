"""`orch build | compose | test-images`: environment images, compose services and in-image suites.

compose.yaml and compose/specs/<slug>.json are generated from the registry. A compose service runs
`python /compose/run.py <slug>` (a host-less wrapper, see compose/run.py) that completes the spec
from the mounted dataset's manifest, runs the job, validates the result and writes the same
results/<slug>-s<seed>-<key12>/ layout as `orch run`, with provenance executor "compose".
"""

import json
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import click

from orchestrator.console import print_json, print_table, say
from orchestrator.environments import COMMON_CODE, ENVIRONMENTS, IMAGE_PYTHON, Environment, PlatformChoice
from orchestrator.errors import UserError
from orchestrator.executors.docker import PIDS_LIMIT, remove_container, sandbox_options
from orchestrator.executors.engine import DEFAULT_BASE_IMAGE, engine_status
from orchestrator.executors.images import BuiltImage, ImageBuilder, dockerfile
from orchestrator.paths import CODE_ROOT, DEFAULT_DATASET
from orchestrator.registry import EXPERIMENTS, Experiment

COMPOSE_FILE = CODE_ROOT / "compose.yaml"
SPECS_DIR = CODE_ROOT / "compose" / "specs"
WRAPPER_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID")
COMPOSE_PROFILE = "quick"
COMPOSE_SEED = 0
TEST_DATASET = "synthetic"


def require_engine() -> None:
    ok, detail = engine_status()
    if not ok:
        raise UserError(f"no Docker engine answers ({detail}); start one (CI: .ci/docker-setup.sh)")


def pick_envs(names: tuple[str, ...]) -> list[Environment]:
    unknown = [n for n in names if n not in ENVIRONMENTS]
    if unknown:
        raise UserError(f"unknown env(s) {', '.join(unknown)}; known: {', '.join(ENVIRONMENTS)}")
    if names:
        return [ENVIRONMENTS[n] for n in names]
    return [e for e in ENVIRONMENTS.values() if e.requirements.is_file() and dockerfile(e).is_file()]


# -- orch build ----------------------------------------------------------------------------------
@click.command("build")
@click.argument("envs", nargs=-1)
@click.option("--force", is_flag=True, help="rebuild even when an image for these inputs exists")
@click.option("--no-cache", is_flag=True, help="rebuild without docker's layer cache (a cold build; implies --force)")
@click.option("--quiet", "-q", is_flag=True, help="do not stream docker build output")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def build_images_command(*, envs, force, no_cache, quiet, as_json):
    """Build the environment images (all by default) when missing or when their inputs changed."""
    require_engine()
    builder = ImageBuilder()
    built: list[BuiltImage] = []
    for env in pick_envs(envs):
        started = time.perf_counter()
        image = builder.ensure(
            env,
            say,
            force=force or no_cache,
            no_cache=no_cache,
            on_line=None if quiet or as_json else (lambda line: say(f"  {line}")),
        )
        built.append(image)
        if not image.built:
            say(f"{env.name}: {image.tag} up to date ({time.perf_counter() - started:.1f}s)")
    if as_json:
        print_json(
            [
                {
                    "env": b.env,
                    "tag": b.tag,
                    "image_id": b.image_id,
                    "size_bytes": b.size_bytes,
                    "build_seconds": round(b.seconds, 1),
                    "built": b.built,
                }
                for b in built
            ]
        )
        return
    print_table(
        "Images",
        ["env", "tag", "image id", "size", "build", ""],
        [
            [
                b.env,
                b.tag,
                b.image_id[7:19],
                f"{b.size_bytes / 1e6:.0f} MB",
                f"{b.seconds:.0f}s" if b.built else "-",
                "built" if b.built else "up to date",
            ]
            for b in built
        ],
    )


# -- orch compose --------------------------------------------------------------------------------
def spec_template(experiment: Experiment) -> dict:
    """The spec minus what the dataset decides (name/sha256, threshold, split dates)."""
    from orchestrator.weights import PUBLISHED

    env = ENVIRONMENTS[experiment.env]
    return {
        "_generated": "by `orch compose` from the model catalog (jobs/catalog.py); do not edit",
        "dataset": DEFAULT_DATASET,
        "weights": PUBLISHED[experiment.weights].model_dir if experiment.weights else None,
        "code": list(COMMON_CODE + env.job_packages),
        "spec": {
            "schema_version": 1,
            "id": experiment.id,
            "slug": experiment.slug,
            "model": experiment.model,
            "env": experiment.env,
            "horizon": experiment.horizon,
            "context_length": experiment.context_length,
            "seed": COMPOSE_SEED,
            "profile": COMPOSE_PROFILE,
            "hyperparameters": experiment.params(COMPOSE_PROFILE),
        },
    }


def _env_anchor(env: Environment) -> list[str]:
    lines = [
        f"x-{env.name}: &{env.name}",
        f"  image: fdinvest-{env.name}:latest",
        "  build:",
        "    context: .",
        "    dockerfile: images/Dockerfile",
        "    args:",
        f"      ENV_NAME: {env.name}",
        f'      PYTHON_VERSION: "{IMAGE_PYTHON}"',
        f"      BASE_IMAGE: ${{ORCH_BASE_IMAGE:-{DEFAULT_BASE_IMAGE}}}",
    ]
    if "torch" in env.pins():
        lines.append("      TORCH_INDEX_URL: ${ORCH_TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}")
    rule = env.docker_platform
    if rule:  # a chosen platform reaches compose through the .env orch writes (executors/platforms.py)
        default = rule.preferred if isinstance(rule, PlatformChoice) else rule
        lines.append(f"  platform: ${{ORCH_{env.name.upper()}_PLATFORM:-{default}}}")
    lines += [
        "  <<: *sandbox",
        "  volumes:",
        "    - ${ORCH_DATA_DIR:-./data}:/data:ro",
        "    - ${ORCH_RESULTS_DIR:-./results}:/results",
        "    - ./compose:/compose:ro",
    ]
    if any(e.env == env.name and e.weights for e in composable()):  # an env whose models load weights
        lines.append("    - ${ORCH_WEIGHTS_DIR:-~/.cache/orch/weights}:/weights:ro")
    return lines + ["  environment:", '    PYTHONHASHSEED: "0"', ""]


def _sandbox_anchor() -> list[str]:
    """compose/run.py starts as root with only these capabilities: it lends the staging folder to the
    images' `orch` user, runs the job as that user, and gives the result to the owner of results/
    (so it works whoever owns results/, root included). The job itself never runs as root."""
    return [
        "x-sandbox: &sandbox",
        "  network_mode: none",
        '  user: "0:0"',
        "  read_only: true",
        '  tmpfs: ["/tmp:rw,exec,nosuid,nodev"]',
        "  cap_drop: [ALL]",
        f"  cap_add: [{', '.join(WRAPPER_CAPABILITIES)}]",
        "  security_opt: [no-new-privileges:true]",
        f"  pids_limit: {PIDS_LIMIT}",
        "",
    ]


def render_compose() -> str:
    lines = [
        "# Generated by `orch compose` from the model catalog (jobs/catalog.py): do not edit by hand.",
        "# tests/orchestrator/executors/test_docker.py fails when this file differs from what the catalog generates.",
        "#",
        "#   orch data build                                  # data/sp500.parquet + manifest, once",
        "#   docker compose up --exit-code-from logreg-h1 logreg-h1   # -> results/logreg-h1-s0-<key12>/",
        "#   (or `docker compose run --rm logreg-h1`; both exit non-zero when the job fails)",
        "#",
        "# Each service runs compose/run.py with compose/specs/<slug>.json (quick profile, seed 0); the",
        "# result is validated and gets the same run key as `orch run` (executor 'compose'), so either",
        "# reuses the other's result. The job runs as the images' non-root user; results are owned by",
        "# the owner of results/. Variables: ORCH_BASE_IMAGE (python:3.11-slim), ORCH_TIMESFM_PLATFORM",
        "# (linux/amd64 where this engine's amd64 containers have AVX, else linux/arm64: `orch doctor`",
        "# probes the engine and writes the choice into .env, which compose reads), ORCH_TORCH_INDEX_URL",
        "# (CPU wheels), ORCH_DATA_DIR, ORCH_RESULTS_DIR, ORCH_WEIGHTS_DIR.",
        "name: fdinvest",
        "",
    ] + _sandbox_anchor()
    for env in ENVIRONMENTS.values():
        lines += _env_anchor(env)
    lines.append("services:")
    for experiment in composable():
        resources = experiment.resources
        memory = f"{int(resources.memory_gb * 1024)}m"
        lines += [
            f"  {experiment.slug}:",
            f"    <<: *{experiment.env}",
            f"    command: [python, /compose/run.py, {experiment.slug}]",
            f"    cpus: {resources.cpus}",
            f"    mem_limit: {memory}",
            f"    memswap_limit: {memory}",
            f"    labels: {{fdinvest.experiment: {experiment.id}}}",
        ]
    return "\n".join(lines) + "\n"


def composable() -> list[Experiment]:
    """Every experiment except the plan's rows that can never run here (they have no job)."""
    return [e for e in EXPERIMENTS if e.unavailable is None]


def generated_files() -> dict[Path, str]:
    files = {COMPOSE_FILE: render_compose()}
    for experiment in composable():
        files[SPECS_DIR / f"{experiment.slug}.json"] = json.dumps(spec_template(experiment), indent=2) + "\n"
    return files


def compose_drift() -> list[str]:
    """What differs between the committed files and what the registry generates."""
    expected = generated_files()
    problems = [
        f"{p.relative_to(CODE_ROOT)}: {'differs' if p.exists() else 'missing'}"
        for p, text in expected.items()
        if not p.exists() or p.read_text() != text
    ]
    if SPECS_DIR.is_dir():
        problems += [
            f"{p.relative_to(CODE_ROOT)}: stale (no such experiment)"
            for p in sorted(SPECS_DIR.glob("*.json"))
            if p not in expected
        ]
    return problems


@click.command("compose")
@click.option("--check", is_flag=True, help="write nothing; exit 1 when the committed files differ from the registry")
def compose_command(check: bool) -> None:
    """Generate compose.yaml and compose/specs/ from the registry (one service per experiment slug)."""
    problems = compose_drift()
    if check:
        if problems:
            raise click.ClickException("compose files out of date (run `orch compose`): " + "; ".join(problems))
        click.echo(f"compose.yaml and {len(composable())} spec templates match the registry")
        return
    SPECS_DIR.mkdir(parents=True, exist_ok=True)
    expected = generated_files()
    for path, text in expected.items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    for stale in SPECS_DIR.glob("*.json"):
        if stale not in expected:
            stale.unlink()
    click.echo(
        f"wrote {COMPOSE_FILE.relative_to(CODE_ROOT)} ({len(composable())} services) and "
        f"{SPECS_DIR.relative_to(CODE_ROOT)}/ ({len(problems)} file(s) changed)"
    )


# -- orch test-images ----------------------------------------------------------------------------
def build_test_datasets(folder: Path) -> None:
    """Datasets in the real format for the suites, mounted read-only at /data: a small synthetic one
    (`synthetic`) and the bundled S&P 500 one (`sp500`, what `orch run` uses by default)."""
    from orchestrator.data.build import BuildRequest, build_dataset
    from orchestrator.data.bundled import build_default_dataset
    from orchestrator.data.sources import synthetic_ohlcv
    from orchestrator.data.splits import BUNDLED_SPLITS
    from shared_schema import SourceInfo

    request = BuildRequest(
        name=TEST_DATASET,
        source=SourceInfo(kind="synthetic", description="image tests", seed=3),
        split_dates=BUNDLED_SPLITS,
    )
    build_dataset(synthetic_ohlcv(rows=2600, seed=3), request, folder)
    build_default_dataset(folder)
    for path in [folder, *folder.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def test_command_line(
    image: str, env: Environment, *, data_dir: Path, name: str, pytest_args: tuple[str, ...]
) -> list[str]:
    """tests/images is mounted where it sits in the repository (/app/tests/images, /app being the
    image's copy of the repository code), so a suite may locate /app as its repository root and
    share tests/images/image_suite.py with the other suites."""
    from orchestrator.executors.images import env_platform

    suites = CODE_ROOT / "tests" / "images"
    inside = f"/app/tests/images/{env.name}"
    command = [
        "docker",
        "run",
        "--name",
        name,
        "--pull",
        "never",
        *sandbox_options("2g"),
        "--volume",
        f"{suites}:/app/tests/images:ro",
        "--volume",
        f"{data_dir.resolve()}:/data:ro",
        "--env",
        "ORCH_TEST_DATA=/data",
        "--env",
        f"ORCH_TEST_DATASET={TEST_DATASET}",
        "--env",
        "ORCH_IN_IMAGE=1",
        "--env",
        "LAGLLAMA_TEST_DATA=/data",
    ]  # the gluonts suite's own name for the prebuilt sp500 data
    if env_platform(env):
        command += ["--platform", env_platform(env)]
    return command + [image, "python", "-m", "pytest", "-p", "no:cacheprovider", "-q", inside, *pytest_args]


@click.command("test-images")
@click.argument("envs", nargs=-1)
@click.option("--pytest-args", default="", help="extra arguments for pytest inside the image")
def test_images_command(envs, pytest_args):
    """Build the images and run tests/images/<env>/ inside each (no network, synthetic data at /data)."""
    require_engine()
    chosen = [e for e in pick_envs(envs) if (CODE_ROOT / "tests" / "images" / e.name).is_dir() or envs]
    if not chosen:
        raise UserError("no env has both an image and a tests/images/<env>/ suite")
    builder = ImageBuilder()
    rows, failed = [], []
    with tempfile.TemporaryDirectory(prefix="orch-image-tests-") as tmp:
        data_dir = Path(tmp)
        build_test_datasets(data_dir)
        for env in chosen:
            if not (CODE_ROOT / "tests" / "images" / env.name).is_dir():
                raise UserError(f"no suite at tests/images/{env.name}/")
            image = builder.ensure(env, say)
            name = f"orch-test-{env.name}-{uuid.uuid4().hex[:8]}"
            say(f"{env.name}: running tests/images/{env.name}/ in {image.tag}")
            started = time.perf_counter()
            try:
                code = subprocess.run(
                    test_command_line(
                        image.image_id, env, data_dir=data_dir, name=name, pytest_args=tuple(pytest_args.split())
                    )
                ).returncode
            except KeyboardInterrupt:
                remove_container(name)
                raise
            finally:
                remove_container(name)
            seconds = time.perf_counter() - started
            rows.append([env.name, image.tag, "passed" if code == 0 else f"FAILED (exit {code})", f"{seconds:.1f}s"])
            if code != 0:
                failed.append(env.name)
    print_table("Image test suites", ["env", "image", "result", "time"], rows)
    if failed:
        raise UserError(f"image test suite(s) failed: {', '.join(failed)}")
