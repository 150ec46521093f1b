#!/usr/bin/env bash
# GPU training check for a lent H100/H200 (under 8 minutes). Those machines have torch, transformers,
# peft and accelerate but not TRL, datasets, polars or math-verify, and no network: `make gpu-wheels`
# downloads the pure-Python wheels here first (into benchmarks/wheels/, not in git), and the device
# tool carries that folder along. Usage on the GPU machine:  bash benchmarks/gpu_train_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python -c "import trl, datasets, polars, math_verify" 2>/dev/null; then
  python -m pip install --quiet --no-index --no-deps --find-links benchmarks/wheels benchmarks/wheels/*.whl
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
timeout 450 python benchmarks/gpu_train_check.py "$@"
