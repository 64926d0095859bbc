#!/usr/bin/env bash
# Runs one experiment on every worker of a Cloud TPU VM slice, through gcloud ssh.
#   launch/tpu_vm.sh --tpu=NAME --zone=ZONE [--project=PROJECT] [--remote_dir=DIR]
#       [--python=PYTHON] [--dry_run] EXPERIMENT[:VARIANT] [WORKDIR] [--config.key=value ...]
# All workers run `cd DIR && PYTHON train.py ... --distributed` at once; JAX finds the
# slice's workers, this worker's process id and the coordinator itself. DIR (default:
# this checkout's directory name, under each worker's home) holds the repository and
# its virtualenv on every worker; PYTHON (default .venv/bin/python) is relative to DIR.
# WORKDIR (default runs/EXPERIMENT) must be on storage all workers share at the same
# path (checkpoints are written there collectively); the output of every worker comes
# back here. Running the same command again resumes.
set -euo pipefail
me=$(basename "$0")
source "$(dirname "$0")/_common.sh"
usage() { awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0"; }

tpu= zone= project= python=.venv/bin/python remote_dir=$(basename "$(cd "$(dirname "$0")/.." && pwd)") dry_run=0
while [[ $# -gt 0 && $1 == -* ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --tpu=*) tpu=${1#*=} ;;
    --zone=*) zone=${1#*=} ;;
    --project=*) project=${1#*=}; [[ -n $project ]] || die "--project is empty" ;;
    --remote_dir=*) remote_dir=${1#*=}; [[ -n $remote_dir ]] || die "--remote_dir is empty" ;;
    --python=*) python=${1#*=}; [[ -n $python ]] || die "--python is empty" ;;
    --dry_run) dry_run=1 ;;
    *) die "unknown option '$1' (launcher options go before EXPERIMENT; see --help)" ;;
  esac
  shift
done
[[ -n $tpu ]] || die "missing --tpu=NAME (see --help)"
[[ -n $zone ]] || die "missing --zone=ZONE (see --help)"
run_args "$@"
set -- "${run_flags[@]}"

# The remote command is one string that each worker's login shell parses once more.
remote="cd $(q "$remote_dir") && $(qjoin "$python" train.py \
  --experiment="$experiment" --workdir="$workdir" --distributed "$@")"
cmd=(gcloud compute tpus tpu-vm ssh "$tpu" --zone="$zone")
[[ -z $project ]] || cmd+=(--project="$project")
cmd+=(--worker=all --command="$remote")
line=$(qjoin "${cmd[@]}")
if ((dry_run)); then echo "$line"; exit 0; fi
command -v gcloud >/dev/null || die "gcloud not found: install the Google Cloud CLI"
echo "$me: $experiment on every worker of $tpu ($zone), workdir $workdir" >&2
# The printed line is what runs.
eval "$line"
