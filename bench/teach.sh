#!/usr/bin/env bash
# Teaching on real photos: validation accuracy and time of `glimpse fine-tune` on the
# hymenoptera photos (ants vs bees; the train folder split 80/20 by Glimpse with a fixed seed),
# head only against head + augmentation (Keras' layers, varied copies of the training photos)
# and against both followed by fine-tuning the network's last blocks (Keras' second step).
#
#   bench/teach.sh [DATA_DIR] [SEEDS...]      (default ../shared/data/hymenoptera/train, seeds 1 2 3)
#   NET=efficientnet-lite2 bench/teach.sh ...  (another network: glimpse zoo fetch NAME first)
#
# A benchmark, not a test: it prints a table (mean over the seeds) and exits 0.
set -eu
here="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:-$here/../shared/data/hymenoptera/train}"
shift || true
seeds=("$@")
[ ${#seeds[@]} -eq 0 ] && seeds=(1 2 3)
net="${NET:-efficientnet-lite0}"
bin="${GLIMPSE:-${CARGO_TARGET_DIR:-/var/tmp/glimpse-target}/release/glimpse}"
export GLIMPSE_ZOO_DIR="${GLIMPSE_ZOO_DIR:-/var/tmp/glimpse-zoo}"   # where scripts/serve keeps it
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
run() { # name args...
  local name=$1; shift
  local accs=() secs=()
  for s in "${seeds[@]}"; do
    local out="$work/$name-$s"
    local t0=$(date +%s.%N)
    if ! "$bin" fine-tune --net "$net" --data "$data" --out "$out" --epochs 30 --seed "$s" "$@" > "$work/log" 2> "$work/err"; then
      echo "fine-tune failed: $(tail -3 "$work/err")" >&2; exit 1
    fi
    local t1=$(date +%s.%N)
    accs+=("$(grep -o 'validation accuracy [0-9][0-9.]*' "$work/log" | awk '{print $3}')")
    secs+=("$(echo "$t1 - $t0" | bc)")
  done
  printf '%-34s %s\n' "$name" "$(python3 -c "
import sys; a=[float(x) for x in sys.argv[1].split()]; t=[float(x) for x in sys.argv[2].split()]
print(f'val acc {sum(a)/len(a):.4f} (' + ', '.join(f'{x:.3f}' for x in a) + f')   time {sum(t)/len(t):.1f} s a run (features cached after the first)')
" "${accs[*]}" "${secs[*]}")"
}
echo "$net on $(ls "$data" | tr '\n' ' ')($(find "$data" -type f | wc -l) photos), seeds ${seeds[*]}"
run "head only" 
run "head + augmentation (2 views)" --augment standard --views 2
run "head + augmentation (4 views)" --augment standard --views 4
run "head + aug (2) + last block tuned" --augment standard --views 2 --unfreeze-blocks 1
run "head + aug (2) + last 2 blocks tuned" --augment standard --views 2 --unfreeze-blocks 2
