#!/usr/bin/env bash
# The GPU check: on a machine with one NVIDIA GPU and no internet, runs the GPU
# benchmarks (bfloat16 ResNet-20 throughput, transformer MFU, the loop against its
# bare step for ResNet-20, the fused cross-entropy; the step against PyTorch on
# request) and then the test suite, each under its own time limit, and prints one
# summary. Output: $OUT (default gpu_check/), one file per part.
#   bench/gpu.sh [WHEELS_DIR]
# It installs nothing from the network. The machine needs Python with jax[cuda],
# flax, optax, orbax-checkpoint, chex, numpy, scikit-learn, matplotlib, pillow, tqdm,
# pytest and pytest-xdist (GPU images usually have them), and torch for the
# PyTorch rows; bring the rest as wheels, made on a machine with internet for the
# GPU machine's Python version (pure-Python sdists such as promise: `pip wheel`):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --implementation cp --platform manylinux_2_28_x86_64 \
#     --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d wheels \
#     tensorflow-datasets==4.9.10 array-record ml-collections tensorboardX \
#     importlib-resources dm-tree simple-parsing toml termcolor immutabledict \
#     tensorflow-metadata googleapis-common-protos docstring-parser wrapt \
#     sacrebleu portalocker tabulate colorama lxml regex   # the last six: tests only
#   pip wheel --no-deps -w wheels promise
# and pass that folder: they are unpacked into /tmp/gpu_deps and put on PYTHONPATH.
# The project itself runs from this checkout (PYTHONPATH), not installed.
set -uo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
out=${OUT:-gpu_check}
mkdir -p "$out"
if [[ $# -gt 0 ]]; then
  "$py" -m pip install --quiet --no-index --no-deps --no-compile --target /tmp/gpu_deps \
    "$1"/*.whl || exit 1
  export PYTHONPATH=/tmp/gpu_deps
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
# Random draws compile to jaxlib's Threefry kernel, as train.py sets (same bits): the
# GPT-2-small init compiled in 46 s without it on a fresh H200.
export JAX_THREEFRY_GPU_KERNEL_LOWERING=1
# Identical programs (the same step in every round of a benchmark) compile once.
export JAX_COMPILATION_CACHE_DIR=/tmp/gpu_check_jax_cache JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=1
nvidia-smi -L || { echo "gpu.sh: no NVIDIA GPU visible" >&2; exit 1; }
"$py" -c "import jax, flax, optax, orbax.checkpoint as o, torch; print('jax', jax.__version__, \
jax.devices(), 'flax', flax.__version__, 'optax', optax.__version__, 'torch', torch.__version__)"

# PARTS names the parts to run (default: the four the issue asks for; add
# step_vs_torch for the PyTorch rows), e.g. PARTS="train_loop tests".
parts=${PARTS:-throughput train_loop fused_ce tests}
run() {  # run NAME SECONDS COMMAND...: output to $out/NAME.txt, never longer than
  # SECONDS (or $<NAME>_LIMIT, e.g. TESTS_LIMIT=320)
  local name=$1 limit=$2; shift 2
  [[ " $parts " == *" $name "* ]] || return 0
  local override="${name^^}_LIMIT"
  limit=${!override:-$limit}
  local start=$SECONDS status
  # SIGINT first: pytest and the benchmarks stop cleanly and still report (pytest
  # its summary and junit file); SIGKILL 10 s later if not
  if timeout -s INT -k 10 "$limit" "$@" > "$out/$name.txt" 2>&1; then status=ok
  else status="exit $?"; fi
  echo "$name: $status in $((SECONDS - start)) s" | tee -a "$out/summary.txt"
}
: > "$out/summary.txt"
# On a fresh machine every benchmark compiles for most of its time, so the default
# check measures each goal once: bfloat16 ResNet-20 images/s and GPT-2-small MFU
# with jax.nn.dot_product_attention, the loop against its bare step, the fused
# cross-entropy's memory and time. The limits add up to 5 minutes 48 s. Measured
# on fresh H200s (2026-11-28, docs/benchmarks_gpu.md): throughput 64 s, the loop
# 45 s, the fused cross-entropy 13 s, the whole check 326 s with the suite stopped
# at its limit (3 of 1,621 tests not done: they waited behind a 148 s test); with
# work stealing and that test started first, the suite alone took 182 s on one
# fresh machine and reached its limit on another (1,619 passed, 6 not done): it has
# no margin (a larger TESTS_LIMIT gives it room, at the cost of the 6 minutes). The
# benchmarks' other rows: run them with their own flags (docs/benchmarks_gpu.md).
run throughput 75 "$py" bench/throughput.py --resnet_runs bfloat16:1024:1 --resnet_steps 300 \
  --attention fused
run train_loop 58 "$py" bench/train_loop.py --experiment cifar10_resnet20 --batch 128 \
  --steps 1000 --rounds 1 --no-k_rows
run fused_ce 25 "$py" bench/fused_ce.py --sizes 8192x1024x65536 --chunks 2048 \
  --row_blocks 1024 --repeats 3
run step_vs_torch 60 "$py" bench/step_vs_torch.py --models mlp lenet5 resnet20 \
  --batches 128 --steps 200
# Many workers share one GPU: each takes memory as it needs it, not 75% up front.
# Work stealing: an idle worker takes queued tests from a busy one (as `make test`).
# Left to `make test` on the CPU: the tests that simulate several devices or
# processes (they force the CPU), the lint gates (GPU images lack ruff and mypy),
# and the losses wheel's packaging test, which builds it with this machine's
# setuptools and resolves jax's installed requirements (it failed on the H200
# image; the time limit cut the report that would have said why).
run tests 190 env XLA_PYTHON_CLIENT_PREALLOCATE=false "$py" -m pytest -q -rf -n 16 --dist worksteal \
  -p no:cacheprovider --junitxml="$out/tests.xml" tests \
  --ignore=tests/training/test_multiprocess.py --ignore=tests/training/test_scale_out.py \
  --ignore=tests/training/test_multidevice.py --ignore=tests/test_quality.py \
  --deselect=tests/training/test_sharding.py::test_eight_devices_sharded_training_matches_replicated \
  --deselect=tests/test_losses_distribution.py::test_the_losses_wheel_installs_and_runs_with_jax_and_numpy_alone \
  ${PYTEST_ARGS:-}

echo "== GPU check, $(date -u +%Y-%m-%dT%H:%MZ), $(nvidia-smi -L | head -1)"
cat "$out/summary.txt"
for part in throughput train_loop fused_ce step_vs_torch; do
  [[ -f "$out/$part.txt" ]] || continue
  echo "== $part"; grep -v -E "^(I|W)[0-9]{4} |^\s*$" "$out/$part.txt" | tail -14
done
[[ -f "$out/tests.txt" ]] && { echo "== tests"; grep -E "^FAILED|passed|failed" "$out/tests.txt" | tail -60; }
