#!/usr/bin/env bash
# Headless Chromium for the browser test (tests/orchestrator/report/test_browser.py): Debian's `chromium`
# package, driven over the DevTools protocol by the test itself. Idempotent: nothing is installed
# when a chromium binary already answers. Afterwards `chromium --version` works (or set
# ORCH_CHROMIUM to another Chromium/Chrome binary).
set -euo pipefail
t0=$(date +%s)
step() { echo "[browser-setup] $(( $(date +%s) - t0 ))s: $*"; }

if command -v chromium >/dev/null && chromium --headless --version >/dev/null 2>&1; then
  step "$(chromium --version 2>/dev/null | head -1) already installed"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then echo "[browser-setup] must run as root to install chromium" >&2; exit 1; fi
step "installing chromium from Debian"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
step "$(chromium --version 2>/dev/null | head -1)"
