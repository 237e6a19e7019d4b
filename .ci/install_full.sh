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
"$VENV/bin/pip" install -q -e "$ROOT[dev,dashboard,plot,torch,ultralytics,supergradients,tlc,dlc,sleap,mpii,ray]"
# SuperGradients 3.7.1 pins numpy<=1.23 / torchmetrics 0.8 / onnx 1.15 ..., which do not install
# on Python 3.11 with numpy 2 and torch 2.14: install it without its pins, then the runtime
# imports it needs (README, "SuperGradients"). torchmetrics 0.8 is what its Trainer runs with.
"$VENV/bin/pip" install -q --no-deps "super-gradients==3.7.1" "data-gradients==0.3.2"
"$VENV/bin/pip" install -q omegaconf hydra-core termcolor "setuptools<81" boto3 stringcase \
  jsonschema onnx onnxsim rapidfuzz "torchmetrics==0.8.0" onnxruntime tensorboard treelib \
  imagesize scipy einops deprecated psutil requests seaborn
# Debian's Chromium serves the browser tests (Playwright's own browser download does not work here).
if ! command -v chromium >/dev/null 2>&1; then
  (apt-get update -qq && apt-get install -y -qq chromium) >/dev/null
fi
