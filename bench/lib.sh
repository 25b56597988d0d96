# Shared by the bench scripts: sourced, not run. Sets ROOT, TOKDASH, WORK (a temp dir removed on
# exit) and kills whatever the script started, by pid, on any exit.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
TOKDASH=$CARGO_TARGET_DIR/release/tokdash
WORK=$(mktemp -d /tmp/tokdash-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  exec 9>&- 2>/dev/null || true          # closes the server's stdin lifeline
  [ -n "${TMUX_SOCK:-}" ] && tmux -S "$TMUX_SOCK" kill-server 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# Private dirs for everything tokdash reads or writes: the user's own files are never touched.
export XDG_CONFIG_HOME=$WORK/config XDG_DATA_HOME=$WORK/data XDG_STATE_HOME=$WORK/state XDG_CACHE_HOME=$WORK/cache
export TOKDASH_CONFIG=$WORK/profiles.toml TOKDASH_STORE=$WORK/tokens
LOG=$XDG_STATE_HOME/tokdash/tokdash.log

build() {
  (cd "$ROOT" && cargo build --release --quiet --bin tokdash)
}

machine() {
  echo "machine: $(nproc) cpu, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
       "$(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r), $(rustc --version)"
}

# start_server [ENV=VALUE...]: the test authorization server; sets ISSUER. Its stdin is a fifo
# we hold open on fd 9 (server.js exits when stdin closes), so it cannot outlive this script.
start_server() {
  mkfifo "$WORK/life"
  env "$@" node "$ROOT/tests/oidc/server.js" <"$WORK/life" >"$WORK/ready" 2>"$WORK/server.err" &
  PIDS+=($!); SERVER_PID=$!
  exec 9>"$WORK/life"
  for _ in $(seq 300); do grep -q READY "$WORK/ready" 2>/dev/null && break; sleep 0.1; done
  ISSUER=$(awk '/^READY/{print $2}' "$WORK/ready")
  [ -n "$ISSUER" ] || { cat "$WORK/server.err"; exit 1; }
}

# cpu_ticks PID: utime+stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat,
# counted after the ")" that ends the command name, which may contain spaces).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

# hyperfine_results LABEL N [HYPERFINE_OPTION...] -- COMMAND...: runs hyperfine (no shell,
# RUNS runs after WARMUP warm-ups) and prints one `RESULT LABEL n=N: …` line per command.
hyperfine_results() {
  local label=$1 n=$2; shift 2
  local opts=()
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  hyperfine -N "${opts[@]}" --warmup "${WARMUP:-20}" --runs "$RUNS" --export-json "$WORK/h.json" \
    "$@" >/dev/null
  python3 - "$WORK/h.json" "$label" "$n" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    cmd = r["command"].split("/")[-1]
    print(f"RESULT {sys.argv[2]} n={sys.argv[3]}: {cmd}: median {r['median']*1000:.2f} ms, "
          f"mean {r['mean']*1000:.2f} ± {r['stddev']*1000:.2f} ms, "
          f"user {r['user']*1000:.2f} ms, sys {r['system']*1000:.2f} ms")
PY
}
