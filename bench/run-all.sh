#!/usr/bin/env bash
# Runs every benchmark of BENCHMARKS.md, one after the other, on this machine, and prints the
# RESULT lines of each at the end. Needs wrk, hyperfine and strace (Debian packages of those
# names), python3 with requests, node/npm (the test authorization server), tmux and script.
#   bench/run-all.sh            # a full run takes about 5 minutes on 2 cores
# Each script also runs alone: bench/refresh_all.sh, bench/dashboard.sh, bench/startup.sh,
# bench/health.sh, bench/team_store.sh (needs bao: scripts/test.sh installs it),
# and `cargo bench --bench render` for the per-frame render cost.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d tests/oidc/node_modules ] || npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error
out=$(mktemp /tmp/tokdash-bench-all.XXXXXX)
for script in refresh_all startup health credentials agent dashboard team_store; do
  echo "== bench/$script.sh"
  bash "bench/$script.sh" 2>&1 | tee -a "$out"
done
echo "== cargo bench --bench render"
cargo bench --bench render -- --noplot 2>&1 | grep -E '^(render|tick|load_store|config_parse)|time:' | tee -a "$out"
echo; echo "== summary"; grep '^RESULT' "$out"; rm -f "$out"
