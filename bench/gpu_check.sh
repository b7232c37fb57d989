#!/usr/bin/env bash
# The GPU check (bench/gpu_check.py): a machine with one GPU runs this to validate every CUDA path in
# under 10 minutes -- gpu-marked tests, each op's GPU benchmark against its reference, one short epoch
# of every training stage, generation, and screening with fp32 / bf16 / TensorRT / ONNX Runtime.
# Results table: bench/results/gpu_check/gpu_check.md. `--dry-run` runs every step on the CPU at toy
# sizes (part of the default test suite). Usage: bench/gpu_check.sh [--device cuda:N] [--records N] [--dry-run]
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
exec "$PY" -m bench.gpu_check "$@"
