#!/usr/bin/env bash
# The GPU check: on a machine with one NVIDIA GPU and no internet, in under 6 minutes,
# runs the test suite and the GPU benchmarks (loop efficiency, bfloat16 ResNet-20
# throughput, transformer MFU, the fused cross-entropy), then prints one table.
#   bench/gpu.sh [WHEELS_DIR]
# It installs nothing from the network. The machine needs Python with jax[cuda],
# flax, optax, orbax-checkpoint, chex, numpy, scikit-learn, matplotlib, pillow, tqdm,
# pytest and pytest-xdist (GPU images usually have them); bring the rest as wheels,
# made on a machine with internet for the GPU machine's Python version:
#   pip download --no-deps --python-version 3.12 --only-binary=:all: -d wheels \
#     tensorflow-datasets==4.9.10 array-record ml-collections tensorboardX \
#     importlib-resources etils promise dm-tree simple-parsing toml wrapt
# and pass that folder: they are unpacked into .gpu_deps/ and put on PYTHONPATH.
# The project itself runs from this checkout (PYTHONPATH), not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
out=${OUT:-gpu_check}
mkdir -p "$out"
if [[ $# -gt 0 ]]; then
  "$py" -m pip install --quiet --no-index --no-deps --target .gpu_deps "$1"/*.whl
  export PYTHONPATH=$PWD/.gpu_deps
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi -L || { echo "gpu.sh: no NVIDIA GPU visible" >&2; exit 1; }

run() {  # run NAME SECONDS COMMAND...: output to $out/NAME.txt, never longer than SECONDS
  local name=$1 limit=$2; shift 2
  local start=$SECONDS
  if timeout "$limit" "$@" > "$out/$name.txt" 2>&1; then status=ok; else status="exit $?"; fi
  echo "$name: $status in $((SECONDS - start)) s" >> "$out/summary.txt"
}
: > "$out/summary.txt"
run tests 150 "$py" -m pytest -q -n 16 -p no:cacheprovider tests
run train_loop 60 "$py" bench/train_loop.py --steps 1500 --rounds 2
run throughput 90 "$py" bench/throughput.py
run fused_ce 60 "$py" bench/fused_ce.py --sizes 8192x1024x65536 --repeats 3

echo "== GPU check, $(date -u +%Y-%m-%dT%H:%MZ), $(nvidia-smi -L | head -1)"
cat "$out/summary.txt"
echo "== tests";      tail -3 "$out/tests.txt"
echo "== loop";       grep -E "bare|train_and_evaluate|steps_per_call|data_on_device" "$out/train_loop.txt" || tail -5 "$out/train_loop.txt"
echo "== throughput"; grep -E "matmul|im/s|tokens/s|utilisation" "$out/throughput.txt" || tail -5 "$out/throughput.txt"
echo "== fused CE";   grep -E "fused|dense" "$out/fused_ce.txt" | tail -6 || tail -5 "$out/fused_ce.txt"
