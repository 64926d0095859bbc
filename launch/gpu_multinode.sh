#!/usr/bin/env bash
# Runs one node's share of a multi-node GPU job. Start it on every node with the same
# arguments except --node_rank (0 on the node at HOST).
#   launch/gpu_multinode.sh --node_rank=R --num_nodes=M --coordinator=HOST[:PORT]
#       [--per=node|gpu] [--gpus_per_node=G] [--dry_run]
#       EXPERIMENT[:VARIANT] [WORKDIR] [--config.key=value ...]
# --per=node (default): one process per node drives its G GPUs; it is process R of M.
# --per=gpu: one process per GPU; this node runs processes R*G .. R*G+G-1 of M*G.
# HOST is node 0's address as the other nodes reach it; PORT defaults to 12355.
# G defaults to the GPUs this node may use (CUDA_VISIBLE_DEVICES, else nvidia-smi -L).
# WORKDIR (default runs/EXPERIMENT) must be on a filesystem every node sees at the same
# path: checkpoints are written there collectively and process I logs to
# WORKDIR/logs/process_I.log. The processes of this node are started and watched by
# multiprocess_local.sh: one failing stops the others (and the other nodes' processes
# then fail at their next collective); re-running the same commands resumes.
# --dry_run prints the commands this node would run and runs nothing.
set -euo pipefail
me=$(basename "$0")
source "$(dirname "$0")/_common.sh"
usage() { awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0"; }
rank= nodes= coordinator= per=node gpus= dry_run=()
while [[ $# -gt 0 && $1 == -* ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --node_rank=*) rank=${1#*=}; int --node_rank "$rank" ;;
    --num_nodes=*) nodes=${1#*=}; posint --num_nodes "$nodes" ;;
    --coordinator=*) coordinator=${1#*=} ;;
    --per=node|--per=gpu) per=${1#*=} ;;
    --per=*) die "--per must be node or gpu, got '${1#*=}'" ;;
    --gpus_per_node=*) gpus=${1#*=}; posint --gpus_per_node "$gpus" ;;
    --dry_run) dry_run=(--dry_run) ;;
    *) die "unknown option '$1' (launcher options go before EXPERIMENT; see --help)" ;;
  esac
  shift
done
[[ -n $rank ]] || die "missing --node_rank=R (see --help)"
[[ -n $nodes ]] || die "missing --num_nodes=M (see --help)"
((rank < nodes)) || die "--node_rank=$rank must be below --num_nodes=$nodes"
[[ -n $coordinator ]] || die "missing --coordinator=HOST[:PORT] (see --help)"
[[ $# -gt 0 ]] || die "missing EXPERIMENT (see --help)"
host=${coordinator%:*} port=12355
if [[ $coordinator == *:* ]]; then port=${coordinator##*:}; fi
[[ -n $host && $port =~ ^[1-9][0-9]*$ ]] || die "--coordinator must be HOST[:PORT], got '$coordinator'"

if [[ -z $gpus ]]; then
  if [[ -n ${CUDA_VISIBLE_DEVICES:-} ]]; then
    IFS=, read -ra visible <<< "$CUDA_VISIBLE_DEVICES"; gpus=${#visible[@]}
  elif command -v nvidia-smi >/dev/null; then
    gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
  fi
  [[ ${gpus:-0} -gt 0 ]] || die "no GPU visible on this node (CUDA_VISIBLE_DEVICES, nvidia-smi -L); pass --gpus_per_node=G"
fi
if [[ $per == node ]]; then
  local_args=(--num_processes=1 --devices_per_process="$gpus" --first_process_id="$rank" --total_processes="$nodes")
else
  local_args=(--num_processes="$gpus" --devices_per_process=1 --first_process_id=$((rank * gpus))
              --total_processes=$((nodes * gpus)))
fi
exec "$(dirname "$0")/multiprocess_local.sh" --platform=gpu --coordinator_host="$host" --port="$port" \
  "${local_args[@]}" ${dry_run[@]+"${dry_run[@]}"} "$@"
