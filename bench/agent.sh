#!/usr/bin/env bash
# Issue 12: `tokdash agent` idle, with 10,000 profiles whose tokens are all valid for 30 min or
# more (so nothing is refreshed: no server needed). CPU over MEASURE_SECS after SETTLE_SECS, and
# memory. Goals: idle CPU < 0.5%, memory < 30 MB.
# Env: SIZES ("10000"), SETTLE_SECS (5), MEASURE_SECS (30).
source "$(dirname "$0")/lib.sh"
SIZES=${SIZES:-"10000"} SETTLE_SECS=${SETTLE_SECS:-5} MEASURE_SECS=${MEASURE_SECS:-30}
build
machine
tick=$(getconf CLK_TCK)
export BENCH_SECRET=unused
for n in $SIZES; do
  rm -rf "$TOKDASH_STORE" "$XDG_STATE_HOME"
  python3 "$ROOT/bench/gen_profiles.py" "$n" "$TOKDASH_CONFIG" "$TOKDASH_STORE"
  sync
  "$TOKDASH" agent 2>"$WORK/agent.err" &
  pid=$!; PIDS+=("$pid")
  sleep "$SETTLE_SECS"
  c0=$(cpu_ticks "$pid")
  sleep "$MEASURE_SECS"
  c1=$(cpu_ticks "$pid")
  rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
  hwm=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
  kill -TERM "$pid"; wait "$pid" || { echo "agent exited non-zero on SIGTERM" >&2; exit 1; }
  refreshed=$(grep -c 'refreshed' "$WORK/agent.err" || true)
  awk -v n="$n" -v c="$((c1 - c0))" -v tick="$tick" -v s="$MEASURE_SECS" -v rss="$rss" \
      -v hwm="$hwm" -v r="$refreshed" 'BEGIN {
    printf "RESULT agent n=%d: idle CPU %.2f%% over %d s (goal < 0.5%%); VmRSS %.1f MiB, VmHWM %.1f MiB (goal < 30 MB); refreshes %d (expected 0)\n", n, 100 * c / tick / s, s, rss / 1024, hwm / 1024, r
  }'
done
