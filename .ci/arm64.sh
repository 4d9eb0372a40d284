#!/usr/bin/env bash
# linux/arm64 images under emulation, so the images an Apple-silicon Mac runs natively are built and
# tested here too: qemu-user's binfmt handler (Debian qemu-user-static + binfmt-support), an arm64
# Debian bookworm + Python 3.11 base (debootstrap --arch arm64), then the sklearn and timesfm images
# built for linux/arm64, their suites run in them, and one real job each through `orch run`.
# The timesfm job runs the way a Mac without AVX for amd64 containers gets it: the engine's CPU-flag
# probe answer is injected as "no AVX" (written into the probe's cache), so `orch run` itself picks
# linux/arm64 and says so.
#
# A runner where the handler cannot be registered (not root, no binfmt_misc, no package) skips with
# a printed reason and exit 0; anything failing after that fails CI. Needs the Docker engine and
# base image of .ci/docker-setup.sh and `orch` on PATH (the venv .ci/run makes).
#   bash .ci/arm64.sh                       # CI: the timesfm suite's probability tests (see below)
#   ARM64_TIMESFM_SUITE=full bash .ci/arm64.sh   # the whole timesfm suite under emulation
set -euo pipefail
cd "$(dirname "$0")/.."

ARM64_BASE="${ORCH_BASE_IMAGE_ARM64:-fdinvest-base:bookworm-py311-arm64}"
AMD64_BASE="${ORCH_BASE_IMAGE:-fdinvest-base:bookworm-py311}"
# CI runs the timesfm suite's probability tests under emulation (numpy/scipy on aarch64, seconds);
# the rest import the timesfm package, whose import alone builds a 200M-parameter model, minutes
# each under qemu: ARM64_TIMESFM_SUITE=full runs all of it. The timesfm job itself always runs.
TIMESFM_QUICK_SUITE="-k probability"
t0=$(date +%s)
step_start=$t0
say() { echo "[arm64] $(($(date +%s) - t0))s: $*"; }
timed() {  # timed LABEL: prints how long the step since the previous `timed` took
  local now
  now=$(date +%s)
  echo "[arm64] TIME $1: $((now - step_start))s"
  step_start=$now
}
skip() {
  echo "[arm64] SKIPPED: $* (arm64 images are not tested on this runner)"
  exit 0
}

# 1. qemu-user's binfmt handler for aarch64 ELF binaries.
[ "$(id -u)" = 0 ] || skip "not root, so no binfmt handler can be registered"
if ! command -v update-binfmts >/dev/null || [ ! -x /usr/bin/qemu-aarch64-static ]; then
  say "installing qemu-user-static and binfmt-support from Debian"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends qemu-user-static binfmt-support >/dev/null; } \
    || skip "qemu-user-static/binfmt-support could not be installed"
fi
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null \
    || skip "binfmt_misc is not mounted and cannot be mounted here"
fi
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true  # already enabled is fine; checked next
grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null \
  || skip "update-binfmts could not enable the qemu-aarch64 handler"
say "binfmt handler: $(grep -E '^(interpreter|flags)' /proc/sys/fs/binfmt_misc/qemu-aarch64 | tr '\n' ' ')"
timed "binfmt registration"

# 2. The arm64 base image. Debian's docker.io 20.10 ignores `docker import --platform` (the image
# would be labelled amd64), so the root filesystem goes in through a FROM-scratch build instead.
if ! docker image inspect "$ARM64_BASE" >/dev/null 2>&1; then
  mirror=$(bash .ci/debian-mirror.sh bookworm)
  say "bootstrapping $ARM64_BASE from $mirror (debootstrap --arch arm64, minbase + python3)"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  debootstrap --arch arm64 --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$work/rootfs" "$mirror" >/tmp/debootstrap-arm64.log 2>&1 \
    || { tail -20 /tmp/debootstrap-arm64.log >&2; exit 1; }
  rm -rf "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/var/cache/apt/*.bin "$work"/rootfs/var/cache/apt/archives/*.deb \
    "$work"/rootfs/usr/share/doc/* "$work"/rootfs/usr/share/man/* "$work"/rootfs/usr/share/locale/*
  tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
  rm -rf "$work/rootfs"
  cat >"$work/Dockerfile" <<'DOCKERFILE'
FROM scratch
ADD rootfs.tar /
ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["python3"]
DOCKERFILE
  DOCKER_BUILDKIT=0 docker build --quiet --platform linux/arm64 --tag "$ARM64_BASE" "$work" >/dev/null
  rm -rf "$work"
  trap - EXIT
fi
machine=$(docker run --rm --network none --platform linux/arm64 "$ARM64_BASE" python3 -c 'import platform; print(platform.machine(), platform.python_version())')
say "base image $ARM64_BASE: $(docker image inspect --format '{{.Os}}/{{.Architecture}}' "$ARM64_BASE"), runs as $machine"
[ "${machine%% *}" = aarch64 ] || { echo "[arm64] the base image runs as $machine, not aarch64" >&2; exit 1; }
timed "arm64 base image"

# 3. Images, suites and one real job each. orch builds an env's image for its platform from the
# base image of that platform (ORCH_BASE_IMAGE_ARM64 for linux/arm64) and runs its containers there.
export ORCH_BASE_IMAGE="$AMD64_BASE" ORCH_BASE_IMAGE_ARM64="$ARM64_BASE"
work=$(mktemp -d)
had_env=0
if [ -f .env ]; then had_env=1; cp .env "$work/env.before"; fi
cleanup() {  # the injected probe answer is a simulation: compose's .env goes back to what it was
  if [ "$had_env" = 1 ]; then cp "$work/env.before" .env; else rm -f .env; fi
  rm -rf "$work"
}
trap cleanup EXIT
export ORCH_DATA_DIR="$work/data" ORCH_RESULTS_DIR="$work/results" ORCH_WEIGHTS_DIR="$work/weights" \
  ORCH_CACHE_DIR="$work/cache"
orch data build >/dev/null
timed "dataset"

ORCH_SKLEARN_PLATFORM=linux/arm64 orch test-images sklearn
timed "sklearn arm64 image + suite"
ORCH_SKLEARN_PLATFORM=linux/arm64 orch run logreg-h1 --executor docker
timed "sklearn arm64 job logreg-h1"

# TimesFM on an engine whose amd64 containers report no AVX (Docker Desktop's Rosetta): the probe's
# answer is injected into this run's cache, and orch itself must choose linux/arm64 and say why.
# The job runs zero-shot: the quick profile's fine-tuning adds minutes of XLA compilation under qemu.
python - <<'PY'
from orchestrator.executors.platforms import record_probe
record_probe("linux/amd64", (), "injected by .ci/arm64.sh: an engine whose amd64 containers lack AVX")
PY
unset ORCH_TIMESFM_PLATFORM
orch build timesfm
built=$(docker image inspect --format '{{.Os}}/{{.Architecture}}' fdinvest-timesfm:latest)
[ "$built" = linux/arm64 ] || { echo "[arm64] orch built the timesfm image for $built, not linux/arm64" >&2; exit 1; }
timed "timesfm image, chosen platform linux/arm64"
# Random-init weights in the published (Orbax) layout, which is the same on every platform: written
# by the timesfm env natively (orch's venv for it), seconds instead of minutes under emulation.
timesfm_python=$(python -c 'from orchestrator.environments import ENVIRONMENTS
from orchestrator.executors.native import VenvManager
print(VenvManager().ensure(ENVIRONMENTS["timesfm"], lambda line: None))')
JAX_PLATFORMS=cpu PYTHONPATH="$PWD" "$timesfm_python" -c 'import sys
from pathlib import Path
from jobs.timesfm.model import save_random_init
save_random_init(Path(sys.argv[1]), {"model_dims": 64, "num_layers": 2, "num_heads": 4}, seed=1)' "$ORCH_WEIGHTS_DIR"
timed "timesfm random-init weights (native timesfm venv)"
orch run timesfm-h1 --executor docker --set mode=zero-shot 2>&1 | tee "$work/timesfm-run.log"
grep -q "timesfm image linux/arm64 (this engine's linux/amd64 containers lack avx" "$work/timesfm-run.log" \
  || { echo "[arm64] orch run did not say it chose linux/arm64 and why" >&2; exit 1; }
orch validate "$ORCH_RESULTS_DIR" >/dev/null
timed "timesfm arm64 job timesfm-h1 (zero-shot, random-init weights)"

if [ "${ARM64_TIMESFM_SUITE:-quick}" = full ]; then
  orch test-images timesfm
else
  orch test-images timesfm --pytest-args "$TIMESFM_QUICK_SUITE"
fi
timed "timesfm arm64 suite (${ARM64_TIMESFM_SUITE:-quick})"
say "done in $(($(date +%s) - t0))s"
