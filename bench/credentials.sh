#!/usr/bin/env bash
# Issue 12: what kubectl, git and scripts pay per call, side by side in one hyperfine run:
# `tokdash kube-credential`, `tokdash git-credential NAME get` and `tokdash token` on a valid
# token (no network: nothing is refreshed), at 10 and 1,000 profiles in the config and store.
# Goals (issue 12): each within 1 ms of `token`; `token` at 1,000 profiles under 5 ms.
# Env: SIZES ("10 1000"), RUNS (300).
source "$(dirname "$0")/lib.sh"
SIZES=${SIZES:-"10 1000"} RUNS=${RUNS:-300}
build
machine
export BENCH_SECRET=unused
# What kubectl sets for the plugin (INTEGRATIONS.md 1.3); git's request comes on stdin, which
# hyperfine leaves empty: a request without attributes is still answered.
export KUBERNETES_EXEC_INFO='{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}'
for n in $SIZES; do
  rm -rf "$TOKDASH_STORE"
  python3 "$ROOT/bench/gen_profiles.py" "$n" "$TOKDASH_CONFIG" "$TOKDASH_STORE"
  # They work, and answer without a request.
  "$TOKDASH" kube-credential team000-svc00 | grep -q '"token"'
  "$TOKDASH" git-credential team000-svc00 get </dev/null | grep -q '^password='
  hyperfine_results credentials "$n" -- \
    "$TOKDASH token team000-svc00" "$TOKDASH kube-credential team000-svc00" \
    "$TOKDASH git-credential team000-svc00 get"
done
