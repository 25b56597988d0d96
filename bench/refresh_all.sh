#!/usr/bin/env bash
# Issue item 1: refresh throughput and client CPU, three clients against ONE server process
# (oidc-provider, rotation on; it forgets its tokens on restart, so setup and measurement share it):
#   tokdash refresh --all   N profiles, each its own grant, max_concurrency 8, fsync on
#   wrk -c8                 the same refresh request, rotation followed in Lua: the server's limit
#   python requests.post    the same request, one profile after the other
# Also counts discovery fetches in one traced run (expected: one per issuer).
# Env: N (profiles, 300), REPS (tokdash runs, 5), WRK_SECS (10), PIPELINE (1: capture the loopback
# traffic of wrk and of the first tokdash run with tcpdump, and say how each used its connections:
# bench/pipeline_gaps.py; the capture costs CPU, so figures of such a run are not the headline).
source "$(dirname "$0")/lib.sh"
N=${N:-300} REPS=${REPS:-5} WRK_SECS=${WRK_SECS:-10} WRK_TOKENS=32
build
machine
start_server

# Setup: N grants for tokdash (the python loop reuses them at the end), 32 for wrk.
t0=$(date +%s.%N)
timeout 900 node "$ROOT/bench/mint_many.mjs" "$ISSUER" $((N + WRK_TOKENS)) 8 >"$WORK/minted"
echo "setup: minted $((N + WRK_TOKENS)) grants in $(echo "$(date +%s.%N) - $t0" | bc) s"
{
  echo '[settings]'
  echo 'max_concurrency = 8'
  for i in $(seq -w 1 "$N"); do
    printf '[profiles.p%s]\nprovider = "oidc"\nissuer = "%s"\nclient_id = "tokdash-post"\nclient_secret_env = "BENCH_SECRET"\n' "$i" "$ISSUER"
  done
} >"$TOKDASH_CONFIG"
export BENCH_SECRET=post-secret
i=0
head -n "$N" "$WORK/minted" | while read -r response; do
  i=$((i + 1))
  printf '%s' "$response" | "$TOKDASH" import "p$(printf "%0${#N}d" $i)" >/dev/null
done
tail -n "$WRK_TOKENS" "$WORK/minted" | python3 -c \
  'import json,sys; [print(json.loads(l)["refresh_token"]) for l in sys.stdin]' >"$WORK/wrk_tokens"

server_cpu() { cpu_ticks "$SERVER_PID"; }
PORT=${ISSUER##*:}; PORT=${PORT%%/*}
capture_start() {
  [ "${PIPELINE:-0}" = 1 ] || return 0
  tcpdump -i lo -tt -nn -q -l "tcp port $PORT" >"$WORK/capture.$1" 2>"$WORK/capture.$1.err" &
  CAPTURE_PID=$!; PIDS+=("$CAPTURE_PID")
  for _ in $(seq 100); do grep -q listening "$WORK/capture.$1.err" && break; sleep 0.1; done
}
capture_stop() {
  [ "${PIPELINE:-0}" = 1 ] || return 0
  kill -INT "$CAPTURE_PID"; wait "$CAPTURE_PID" 2>/dev/null || true
  python3 "$ROOT/bench/pipeline_gaps.py" "$1" "$PORT" <"$WORK/capture.$1"
}
tick=$(getconf CLK_TCK)

# (a) The server's limit: wrk first, so the tokdash runs below cannot have warmed it up for it.
capture_start wrk
s0=$(server_cpu)
python3 "$ROOT/bench/rusage.py" "$WORK/wrk.ru" \
  wrk -t1 -c8 -d"${WRK_SECS}s" -s "$ROOT/bench/refresh.lua" "$ISSUER/token" -- "$WORK/wrk_tokens" \
  >"$WORK/wrk.out"
s1=$(server_cpu)
capture_stop wrk
grep -E 'Latency|Non-2xx|WRK' "$WORK/wrk.out"
wrk_rps=$(awk '/^WRK/{split($3,a,"="); print a[2]}' "$WORK/wrk.out")
wrk_req=$(awk '/^WRK/{split($2,a,"="); print a[2]}' "$WORK/wrk.out")
echo "server CPU during wrk: $(echo "scale=3; ($s1 - $s0) * 1000 / $tick / $wrk_req" | bc) ms/request"

# tokdash: REPS runs of refresh --all; each spends and stores every profile's refresh token.
# The discovery cache is removed before the first run, so that run pays for discovery.
rm -f "$TOKDASH_STORE"/.discovery-*.json
for r in $(seq "$REPS"); do
  [ "$r" = 1 ] && capture_start tokdash
  s0=$(server_cpu)
  python3 "$ROOT/bench/rusage.py" "$WORK/tokdash.ru" "$TOKDASH" refresh --all --force >"$WORK/refresh.out"
  s1=$(server_cpu)
  [ "$r" = 1 ] && capture_stop tokdash
  [ "$(tail -n1 "$WORK/tokdash.ru" | cut -d' ' -f4)" = 0 ] || { echo "refresh --all failed"; exit 1; }
  [ "$(grep -c 'new refresh token stored' "$WORK/refresh.out")" = "$N" ] || { echo "not all rotated"; exit 1; }
  echo "server CPU during tokdash run $r: $(echo "scale=3; ($s1 - $s0) * 1000 / $tick / $N" | bc) ms/request"
done
echo "tokdash runs (wall user sys exit):"; cat "$WORK/tokdash.ru"

# Discovery: one traced run with the cache removed; count requests by what tokdash writes to
# its sockets (HTTP/1.1 in clear on loopback).
rm -f "$TOKDASH_STORE"/.discovery-*.json
strace -f -qq -e trace=write,writev,sendto,sendmsg,connect,fsync,fdatasync,syncfs,rename,renameat,renameat2 -s 64 -o "$WORK/strace" \
  "$TOKDASH" refresh --all --force >/dev/null
echo "traced run: $(grep -c 'GET /.well-known/openid-configuration' "$WORK/strace") discovery GET(s)," \
     "$(grep -c 'POST /token' "$WORK/strace") POST /token, for $N profiles of 1 issuer"
echo "traced run: $(grep -c 'connect(' "$WORK/strace") connect(s) (connection reuse)," \
     "$(grep -cE 'fsync\(|fdatasync\(' "$WORK/strace") fsync(s), $(grep -c 'syncfs(' "$WORK/strace") syncfs(s)," \
     "$(grep -cE 'rename(at2?)?\(' "$WORK/strace") rename(s)"
"$TOKDASH" refresh --all --force >/dev/null  # cache present now: expect no GET in this one
echo "log lines 'refreshed': $(grep -c refreshed "$LOG")"

# (b) Python: one requests.post per profile, using the refresh tokens tokdash stored last.
python3 "$ROOT/bench/rusage.py" "$WORK/python.ru" python3 "$ROOT/bench/refresh_loop.py" \
  "$ISSUER/token" "$TOKDASH_STORE"
echo "python (wall user sys exit): $(cat "$WORK/python.ru")"

# The floor of a refresh's client CPU on this machine: wrk's CPU per request (the HTTP part, as
# cheap as a client gets) plus the kernel CPU of writing a record durably as SPEC.md requires, the
# cheaper of two ways (a new temporary file, or the record's spare exchanged with it),
# in batches as tokdash commits them (bench/durability_floor.py, records of the size tokdash wrote).
record_size=$(find "$TOKDASH_STORE" -maxdepth 1 -name '*.json' ! -name '.*' -printf '%s\n' | awk '{s+=$1} END {print int(s/NR)}')
python3 "$ROOT/bench/durability_floor.py" "$WORK/floor" "$N" "$record_size" 8 | tee "$WORK/floor.all"
grep "^FLOOR" "$WORK/floor.all" >"$WORK/floor.out"
read -r _ wu ws _ <"$WORK/wrk.ru"

# Summary: the median tokdash run by wall time, against wrk and python.
sort -n "$WORK/tokdash.ru" | sed -n "$(( (REPS + 1) / 2 ))p" >"$WORK/median"
read -r tw tu ts _ <"$WORK/median"
read -r pw pu ps _ <"$WORK/python.ru"
floor_kernel=$(sed -E 's/.*kernel ([0-9.]+) ms.*/\1/' "$WORK/floor.out")
awk -v req="$wrk_req" -v wu="$wu" -v ws="$ws" -v fk="$floor_kernel" -v pu="$pu" -v ps="$ps" -v n="$N" 'BEGIN {
  w = (wu + ws) * 1000 / req; f = w + fk; pc = (pu + ps) * 1000 / n
  printf "RESULT refresh: floor of a durable refresh'"'"'s client CPU: wrk %.3f ms/request + durable write %.3f ms = %.3f ms = 1/%.1f of the python loop'"'"'s\n", w, fk, f, pc / f
}'
awk -v n="$N" -v tw="$tw" -v tu="$tu" -v ts="$ts" -v pw="$pw" -v pu="$pu" -v ps="$ps" -v wrk="$wrk_rps" 'BEGIN {
  t = n / tw; tc = (tu + ts) * 1000 / n; pc = (pu + ps) * 1000 / n
  printf "RESULT refresh: wrk %.0f req/s; tokdash %.0f refreshes/s = %.0f%% of wrk (goal >= 80%%)\n", wrk, t, 100 * t / wrk
  printf "RESULT refresh: CPU per refresh: tokdash %.3f ms (user %.3f sys %.3f), python %.3f ms (%.0f refresh/s); ratio 1/%.1f (goal <= 1/10)\n", tc, tu*1000/n, ts*1000/n, pc, n / pw, pc / tc
}'
