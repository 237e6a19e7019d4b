#!/usr/bin/env bash
# Create a virtual environment with every optional extra: bash .ci/install_full.sh VENV_DIR
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV=$1
PY=${PYTHON:-python3}
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
# torch first, pinned to the wheels this machine keeps on its local disk (CPU work only).
"$VENV/bin/pip" install -q "torch==2.14.1" "torchvision==0.29.1"
"$VENV/bin/pip" install -q -e "$ROOT[dev,dashboard,plot,torch,ultralytics]"
# Debian's Chromium serves the browser tests (Playwright's own browser download does not work here).
if ! command -v chromium >/dev/null 2>&1; then
  (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null
fi
