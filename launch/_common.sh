# Shared by the launchers (sourced, not run): messages, shell quoting, and the run
# arguments every launcher takes, EXPERIMENT[:VARIANT] [WORKDIR] [--config.key=value ...].
# The sourcing script sets `me` (its name, for messages) first.

die() { echo "$me: error: $*" >&2; exit 2; }
int() { [[ $2 =~ ^(0|[1-9][0-9]*)$ ]] || die "$1 must be a non-negative integer, got '$2'"; }
posint() { [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer, got '$2'"; }
# Quotes a word for the shell only when it needs it, so that printed lines stay readable.
q() { if [[ $1 =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then printf '%s' "$1"; else printf "'%s'" "${1//\'/\'\\\'\'}"; fi; }
qjoin() { local a out=(); for a in "$@"; do out+=("$(q "$a")"); done; echo "${out[*]}"; }

# run_args ARGS...: sets `experiment`, `workdir` (default runs/EXPERIMENT, ':' -> '_')
# and the array `run_flags` (the --config overrides, passed on verbatim). Flags the
# launcher sets itself are refused: a second value would silently win or conflict.
run_args() {
  [[ $# -gt 0 ]] || die "missing EXPERIMENT (see --help)"
  experiment=$1; shift
  workdir="runs/${experiment//:/_}"
  if [[ $# -gt 0 && $1 != --* ]]; then workdir=$1; shift; fi
  local a
  for a in "$@"; do
    case "$a" in
      --experiment=*|--workdir=*|--coordinator_address*|--num_processes*|--process_id*|--distributed*|--dry_run)
        die "'$a' is set by this launcher (its own options go before EXPERIMENT)" ;;
    esac
  done
  run_flags=("$@")
}
