#!/usr/bin/env bash
# `tokdash health` (issue 14) at scale, with hyperfine (no shell between it and tokdash): every
# profile has a valid access token and a known end of its login, every 10th one ending within
# 3 days (so it is listed: health exits 1, which hyperfine is told to accept), with 1,000 and
# 10,000 profiles in the config and store. No network: health reads the config and every record.
# Env: SIZES ("1000 10000"), RUNS (50).
source "$(dirname "$0")/lib.sh"
SIZES=${SIZES:-"1000 10000"} RUNS=${RUNS:-50} WARMUP=${WARMUP:-5}
build
machine
export BENCH_SECRET=unused
for n in $SIZES; do
  rm -rf "$TOKDASH_STORE"
  python3 "$ROOT/bench/gen_profiles.py" "$n" "$TOKDASH_CONFIG" "$TOKDASH_STORE" --login-ends 10
  # It works: exit 1, one line per tenth profile, each a login ending soon.
  set +e; "$TOKDASH" health >"$WORK/out"; code=$?; set -e
  lines=$(wc -l <"$WORK/out")
  [ "$code" = 1 ] && [ "$lines" = $((n / 10)) ] && ! grep -qv ': login ends in ' "$WORK/out" || {
    echo "health: exit $code, $lines lines, expected 1 and $((n / 10))" >&2; exit 1; }
  hyperfine_results health "$n" -i -- \
    "$TOKDASH health" "$TOKDASH health --json" "$TOKDASH list --json"
done
