#!/usr/bin/env bash
# The long fault-injection trials the test suite leaves out for time: SIGKILL at
# ten random steps, each resumed run bit-identical to an uninterrupted one.
#   bash launch/fault_trials.sh            (a few minutes on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/.."
exec make test ARGS="-m fault_trials tests/training/test_faults.py $*"
