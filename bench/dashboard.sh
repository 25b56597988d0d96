#!/usr/bin/env bash
# Issue item 2: the dashboard at 1,000 and 10,000 profiles, in a real terminal (tmux, 120x30).
# Per size: time to first frame (tokdash's own log), time until the store is loaded and shown
# (the header counts every profile as valid, seen from outside with capture-pane), idle CPU
# and bytes written to the terminal over MEASURE_SECS (tokdash runs under `script -f`, whose
# file grows by exactly what the program writes), and VmRSS / VmHWM.
# No server is needed: every token is valid for 30 min or more, so nothing is refreshed.
# Env: SIZES ("1000 10000"), SETTLE_SECS (5), MEASURE_SECS (30).
source "$(dirname "$0")/lib.sh"
SIZES=${SIZES:-"1000 10000"} SETTLE_SECS=${SETTLE_SECS:-5} MEASURE_SECS=${MEASURE_SECS:-30}
build
machine
tick=$(getconf CLK_TCK)
TMUX_SOCK=$WORK/tmux.sock
echo 'set -g status off' >"$WORK/tmux.conf"   # the pane gets all 30 rows
export BENCH_SECRET=unused

# The tokdash process under the pane (script -> sh -> tokdash, or script -> tokdash).
find_tokdash() {
  local p=$1
  for _ in 1 2 3; do
    [ "$(cat "/proc/$p/comm")" = tokdash ] && { echo "$p"; return; }
    p=$(pgrep -P "$p" | head -n1)
  done
}

for n in $SIZES; do
  rm -rf "$TOKDASH_STORE" "$XDG_STATE_HOME"
  python3 "$ROOT/bench/gen_profiles.py" "$n" "$TOKDASH_CONFIG" "$TOKDASH_STORE"
  sync   # the generated files are not in flight while measuring
  tmux -S "$TMUX_SOCK" -f "$WORK/tmux.conf" new-session -d -x 120 -y 30 -s bench
  t0=$(date +%s%N)
  tmux -S "$TMUX_SOCK" respawn-pane -k -t bench \
    "script -q -f -c '$TOKDASH' '$WORK/typescript'"
  # Loaded: the header says "<n> valid" once every record has been read and shown.
  loaded=""
  for _ in $(seq 3000); do
    if tmux -S "$TMUX_SOCK" capture-pane -p -t bench | head -n1 | grep -q " $n valid"; then
      loaded=$(( ($(date +%s%N) - t0) / 1000000 )); break
    fi
    sleep 0.01
  done
  first=$(grep -o 'ms=[0-9.]*' "$LOG" | head -n1 | cut -d= -f2)
  pid=$(find_tokdash "$(tmux -S "$TMUX_SOCK" display -p -t bench '#{pane_pid}')")
  sleep "$SETTLE_SECS"
  c0=$(cpu_ticks "$pid"); b0=$(stat -c %s "$WORK/typescript")
  sleep "$MEASURE_SECS"
  c1=$(cpu_ticks "$pid"); b1=$(stat -c %s "$WORK/typescript")
  rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
  hwm=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
  tmux -S "$TMUX_SOCK" capture-pane -p -t bench | head -n3
  tmux -S "$TMUX_SOCK" send-keys -t bench q
  sleep 0.5
  tmux -S "$TMUX_SOCK" kill-server 2>/dev/null || true
  awk -v n="$n" -v first="$first" -v loaded="${loaded:-never}" -v c="$((c1 - c0))" -v tick="$tick" \
      -v s="$MEASURE_SECS" -v b="$((b1 - b0))" -v rss="$rss" -v hwm="$hwm" 'BEGIN {
    printf "RESULT dashboard n=%d: first frame %s ms (goal < 100 at 10000); store loaded and shown %s ms after launch\n", n, first, loaded
    printf "RESULT dashboard n=%d: idle CPU %.2f%% over %d s (goal < 1%%); terminal %.0f B/s at 120x30 (goal < 1024)\n", n, 100 * c / tick / s, s, b / s
    printf "RESULT dashboard n=%d: VmRSS %.1f MiB, VmHWM %.1f MiB (goal < 30 MB at 10000)\n", n, rss / 1024, hwm / 1024
  }'
done
