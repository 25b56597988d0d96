#!/usr/bin/env bash
# Issue item 3: start-up cost of the script-facing commands, with hyperfine (no shell between
# it and tokdash): `tokdash token NAME` on a valid token (no network: nothing is refreshed) and
# `tokdash list`, with 10 and with 1,000 profiles in the config and store.
# Env: SIZES ("10 1000"), RUNS (300).
source "$(dirname "$0")/lib.sh"
SIZES=${SIZES:-"10 1000"} RUNS=${RUNS:-300}
build
machine
export BENCH_SECRET=unused
for n in $SIZES; do
  rm -rf "$TOKDASH_STORE"
  python3 "$ROOT/bench/gen_profiles.py" "$n" "$TOKDASH_CONFIG" "$TOKDASH_STORE"
  "$TOKDASH" token team000-svc00 >/dev/null   # it works, and prints only the token
  hyperfine_results startup "$n" -- \
    "$TOKDASH token team000-svc00" "$TOKDASH list" "$TOKDASH list --json"
done
