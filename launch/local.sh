#!/usr/bin/env bash
# Runs one experiment on this machine, on every local device.
#   launch/local.sh EXPERIMENT[:VARIANT] [WORKDIR] [--config.key=value ...]
# Re-running with the same WORKDIR resumes from its latest checkpoint.
set -euo pipefail
if [[ $# -lt 1 || "$1" == -h || "$1" == --help ]]; then
  sed -n '2,4p' "$0" | cut -c3-
  exit 2
fi
cd "$(dirname "$0")/.."
experiment="$1"; shift
workdir="runs/${experiment//:/_}"
if [[ $# -gt 0 && "$1" != --* ]]; then workdir="$1"; shift; fi
python="${PYTHON:-.venv/bin/python}"
[[ -x "$python" ]] || python=python3
exec "$python" train.py --experiment="$experiment" --workdir="$workdir" "$@"
