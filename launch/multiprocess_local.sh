#!/usr/bin/env bash
# Runs one experiment as N cooperating JAX processes on this machine.
#   launch/multiprocess_local.sh [--num_processes=N] [--devices_per_process=K] [--port=P]
#       [--platform=cpu|gpu] [--dry_run] EXPERIMENT[:VARIANT] [WORKDIR] [--config.key=value ...]
# cpu: each process gets K forced host devices and gloo collectives (default N=2, K=1).
# gpu: each process gets K GPUs through CUDA_VISIBLE_DEVICES (default N = GPUs / K).
# The platform defaults to gpu when nvidia-smi lists GPUs. Process 0 is the coordinator
# on 127.0.0.1:P (a free port when P is not given). Process I logs to
# WORKDIR/logs/process_I.log (WORKDIR defaults to runs/EXPERIMENT). If one process
# fails, the others are stopped and its exit status is returned; Ctrl-C or SIGTERM is
# passed on as one SIGTERM to each process (they save a checkpoint at the same step).
# Re-running the same command resumes. --dry_run prints the commands and runs nothing.
# One node's share of a larger job (what gpu_multinode.sh passes):
#   --coordinator_host=HOST  --first_process_id=O  --total_processes=T
set -euo pipefail
me=$(basename "$0")
source "$(dirname "$0")/_common.sh"
usage() { awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0"; }
num= devices=1 port= platform= dry_run=0 host=127.0.0.1 first=0 total=
while [[ $# -gt 0 && $1 == -* ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --num_processes=*) num=${1#*=}; posint --num_processes "$num" ;;
    --devices_per_process=*) devices=${1#*=}; posint --devices_per_process "$devices" ;;
    --port=*) port=${1#*=}; posint --port "$port"; ((port < 65536)) || die "--port must be below 65536" ;;
    --platform=cpu|--platform=gpu) platform=${1#*=} ;;
    --platform=*) die "--platform must be cpu or gpu, got '${1#*=}'" ;;
    --coordinator_host=*) host=${1#*=}; [[ -n $host ]] || die "--coordinator_host is empty" ;;
    --first_process_id=*) first=${1#*=}; int --first_process_id "$first" ;;
    --total_processes=*) total=${1#*=}; posint --total_processes "$total" ;;
    --dry_run) dry_run=1 ;;
    *) die "unknown option '$1' (launcher options go before EXPERIMENT; see --help)" ;;
  esac
  shift
done
run_args "$@"
set -- "${run_flags[@]}"

if [[ -z $platform ]]; then
  platform=cpu
  if command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then platform=gpu; fi
fi
gpus=()
if [[ $platform == gpu ]]; then
  # Process i gets the i-th group of K GPUs among those this shell may use.
  if [[ -n ${CUDA_VISIBLE_DEVICES:-} ]]; then IFS=, read -ra gpus <<< "$CUDA_VISIBLE_DEVICES"
  elif [[ -n $num ]]; then for ((g = 0; g < num * devices; g++)); do gpus+=("$g"); done
  else
    count=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
    for ((g = 0; g < ${count:-0}; g++)); do gpus+=("$g"); done
  fi
  ((${#gpus[@]} > 0)) || die "no GPU visible (CUDA_VISIBLE_DEVICES, nvidia-smi -L): use --platform=cpu"
  num=${num:-$((${#gpus[@]} / devices))}
  ((num > 0 && num * devices <= ${#gpus[@]})) ||
    die "$num processes x $devices GPUs need more than the ${#gpus[@]} GPUs visible"
fi
num=${num:-2}
total=${total:-$num}
((first + num <= total)) || die "processes $first..$((first + num - 1)) exceed --total_processes=$total"
if [[ -z $port ]]; then
  [[ $host == 127.0.0.1 || $host == localhost ]] || die "--port is required with --coordinator_host"
  # Nothing answering a connection on loopback means the port is free (racy, but rarely wrong).
  for _ in {1..50}; do
    port=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
  done
fi

cd "$(dirname "$0")/.."
python="${PYTHON:-.venv/bin/python}"
[[ -x "$python" ]] || python=python3
logdir="$workdir/logs"
xla_flags=()
read -ra words <<< "${XLA_FLAGS:-}"
for f in "${words[@]}"; do [[ $f == *device_count* ]] || xla_flags+=("$f"); done
xla_flags+=("--xla_force_host_platform_device_count=$devices")
lines=("cd $(q "$PWD")" "mkdir -p $(q "$logdir")")
for ((i = 0; i < num; i++)); do
  id=$((first + i))
  if [[ $platform == cpu ]]; then
    env="JAX_PLATFORMS=cpu JAX_CPU_COLLECTIVES_IMPLEMENTATION=gloo XLA_FLAGS=$(q "${xla_flags[*]}")"
  else
    # JAX_LOCAL_DEVICE_IDS keeps all K: inside a Slurm job JAX would take only GPU SLURM_LOCALID.
    ids=("${gpus[@]:i * devices:devices}") local_ids=$(seq -s, 0 $((devices - 1)))
    env="CUDA_VISIBLE_DEVICES=$(IFS=,; q "${ids[*]}") JAX_LOCAL_DEVICE_IDS=$local_ids"
  fi
  lines+=("$env $(qjoin "$python" train.py --experiment="$experiment" --workdir="$workdir" \
    --coordinator_address="$host:$port" --num_processes="$total" --process_id="$id" "$@") \
> $(q "$logdir/process_$id.log") 2>&1 &")
done
if ((dry_run)); then printf '%s\n' "${lines[@]}"; exit 0; fi

# The printed lines are what runs. Each process gets a process group of its own (set -m),
# so a Ctrl-C reaches only this script, which sends exactly one SIGTERM to each.
exec 3>&2  # this script's own messages; fd 2 is muted around the wait loop below
pids=()
alive() { local p; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
stop() {  # stop SIGNAL SECONDS: signal every process group, SIGKILL what is left after SECONDS
  local p t
  for p in "${pids[@]}"; do kill -"$1" -- "-$p" 2>/dev/null || true; done
  for ((t = 0; t < $2 * 2; t++)); do alive || return 0; sleep 0.5; done
  echo "$me: still running after $2 s: SIGKILL" >&3
  for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
}
for sig in HUP:129 INT:130 TERM:143; do
  trap "echo '$me: SIG${sig%:*}: SIGTERM to every process' >&3; stop TERM 120; exit ${sig#*:}" "${sig%:*}"
done
for line in "${lines[@]}"; do
  if [[ $line == *'&' ]]; then set -m; eval "$line"; set +m; pids+=("$!"); else eval "$line"; fi
done
echo "$me: $num processes on $platform, coordinator $host:$port, logs in $logdir/process_*.log" >&3
declare -A finished=()
while ((${#finished[@]} < num)); do
  for i in "${!pids[@]}"; do
    [[ -z ${finished[$i]:-} ]] && ! kill -0 "${pids[i]}" 2>/dev/null || continue
    rc=0; wait "${pids[i]}" || rc=$?
    finished[$i]=$rc
    if ((rc != 0)); then
      log="$logdir/process_$((first + i)).log"
      ((rc > 128)) && rc_is=" (signal $((rc - 128)))" || rc_is=""
      echo "$me: process $((first + i)) exited with status $rc$rc_is; stopping the others. End of $log:" >&3
      tail -n 20 "$log" >&3 || true
      # A peer is gone, so the survivors cannot finish a collective save: short grace.
      stop TERM 10
      exit "$rc"
    fi
  done
  sleep 0.5
done 2>/dev/null  # bash's own notice of a killed process: reported on fd 3 instead
echo "$me: all $num processes finished; logs in $logdir" >&3
