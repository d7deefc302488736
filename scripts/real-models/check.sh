#!/usr/bin/env bash
# Run glimpse on every fetched real model and compare with the real loader's output.
#
#   scripts/real-models/check.sh [--convert] [ID ...]
#
# --convert also writes each model as a Keras 3 .keras with `glimpse convert` and checks that
# real Keras 3 (KERAS_BACKEND=jax) opens it and predicts the same (check_converted.py).
#
# For each model in models.json whose ${GLIMPSE_REAL_DIR:-/var/tmp/glimpse-real}/<id>/
# holds input.npy + output.npy (fetch.py, then reference.py), runs
#   $GLIMPSE predict <model file | model.json> input.npy --save-output OUT.npy [--weights W]
# and compares OUT.npy with output.npy: pass when |glimpse - ref| <= 1e-4 * max(1, |ref|)
# everywhere.  Prints one row per model; exit status 1 if any row is not "pass".
# glimpse's full output is kept in <id>/glimpse.log.
# GLIMPSE defaults to /var/tmp/glimpse-target/release/glimpse; GLIMPSE_CHECK_TIMEOUT (s, default 600).
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
REAL="${GLIMPSE_REAL_DIR:-/var/tmp/glimpse-real}"
GLIMPSE="${GLIMPSE:-/var/tmp/glimpse-target/release/glimpse}"
TIMEOUT="${GLIMPSE_CHECK_TIMEOUT:-600}"
PY="${PYTHON:-python3}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

CONVERT=0
if [ "${1:-}" = --convert ]; then CONVERT=1; shift; fi

[ -x "$GLIMPSE" ] || { echo "glimpse binary not found at $GLIMPSE (set GLIMPSE=...)"; exit 2; }

# id <TAB> kind <TAB> model file <TAB> weights file (may be empty)
"$PY" - "$HERE/models.json" "$@" > "$WORK/list" <<'EOF'
import json, sys
ms = json.load(open(sys.argv[1]))["models"]
want = set(sys.argv[2:])
for m in ms:
    if not want or m["id"] in want:
        print("\t".join([m["id"], m["kind"], m["model_file"], m.get("weights_file", "")]))
EOF

printf '%-28s %-12s %-11s %-6s %s\n' id kind max_diff result detail
printf '%-28s %-12s %-11s %-6s %s\n' ---------------------------- ------------ ----------- ------ ------
bad=0
while IFS=$'\t' read -r id kind model weights; do
  d="$REAL/$id"
  if [ ! -f "$d/output.npy" ] || [ ! -f "$d/input.npy" ]; then
    printf '%-28s %-12s %-11s %-6s %s\n' "$id" "$kind" - skip "no input.npy/output.npy (run fetch.py, reference.py)"
    bad=1; continue
  fi
  out="$WORK/$id.npy"
  args=(predict "$d/$model" "$d/input.npy" --save-output "$out")
  [ -n "$weights" ] && args+=(--weights "$d/$weights")
  timeout "$TIMEOUT" "$GLIMPSE" "${args[@]}" > "$WORK/$id.log" 2>&1
  rc=$?
  cp "$WORK/$id.log" "$d/glimpse.log" 2>/dev/null
  if [ $rc -ne 0 ] || [ ! -f "$out" ]; then
    msg="$(grep -v '^\s*$' "$WORK/$id.log" | head -n 4 | tr -s ' \n' ' ' | cut -c1-300)"
    [ $rc -eq 124 ] && msg="timed out after ${TIMEOUT}s"
    printf '%-28s %-12s %-11s %-6s %s\n' "$id" "$kind" - error "rc=$rc: $msg"
    bad=1; continue
  fi
  line="$("$PY" - "$out" "$d/output.npy" <<'EOF'
import sys
import numpy as np
a = np.load(sys.argv[1]).astype(np.float64)
b = np.load(sys.argv[2]).astype(np.float64)
if a.shape != b.shape:
    if a.size == b.size:
        a = a.reshape(b.shape)
    else:
        print(f"- fail shape {a.shape} != reference {b.shape}"); sys.exit()
diff = np.abs(a - b)
rel = diff / np.maximum(1.0, np.abs(b))
ok = bool(np.all(rel <= 1e-4)) and bool(np.all(np.isfinite(a)))
worst = np.unravel_index(int(np.argmax(rel)), rel.shape)
print(f"{diff.max():.3e} {'pass' if ok else 'fail'} worst at {tuple(int(i) for i in worst)}: glimpse {a[worst]:.6g} ref {b[worst]:.6g}; photo argmax glimpse {int(a[0].argmax())} ref {int(b[0].argmax())}")
EOF
)"
  read -r md res rest <<< "$line"
  printf '%-28s %-12s %-11s %-6s %s\n' "$id" "$kind" "$md" "$res" "$rest"
  [ "$res" = pass ] || bad=1
done < "$WORK/list"

if [ $CONVERT = 1 ]; then
  echo
  echo "glimpse convert → real Keras 3:"
  pairs=()
  while IFS=$'\t' read -r id kind model weights; do
    d="$REAL/$id"
    [ -f "$d/output.npy" ] || continue
    args=(convert "$d/$model" "$WORK/$id.keras")
    [ -n "$weights" ] && args+=(--weights "$d/$weights")
    if "$GLIMPSE" "${args[@]}" > "$WORK/$id.convert.log" 2>&1; then
      pairs+=("$WORK/$id.keras" "$d")
    else
      echo "$id: convert failed: $(head -c 300 "$WORK/$id.convert.log")"; bad=1
    fi
  done < "$WORK/list"
  KERAS_BACKEND="${KERAS_BACKEND:-jax}" "$PY" "$HERE/check_converted.py" "${pairs[@]}" 2>&1 \
    | grep -v -i 'warn\|^Expected\|^Received' | tee "$WORK/converted.txt"
  grep -q FAILED "$WORK/converted.txt" && bad=1
fi
exit $bad
