#!/usr/bin/env bash
# Issue 9: how many token requests the dashboard sends in SECS seconds (default 60) for one
# profile whose access tokens live 60 s, under the default refresh_ahead (5 min). The server
# counts them (tests/oidc/server.js, /_test/token-requests/<client>).
#
#   bench/dashboard_requests.sh [TOKDASH_BINARY]     (default: this tree's release build)
#
# Before the due rule was bounded by the lifetime, a 60 s token was due the moment it arrived
# and the dashboard refreshed it at every tick.
source "$(dirname "$0")/lib.sh"
SECS=${SECS:-60}
if [ $# -ge 1 ]; then TOKDASH=$1; else build; fi
start_server
CLIENT=tokdash-ttl-60-dash
cat >"$TOKDASH_CONFIG" <<TOML
[profiles.p]
provider = "oidc"
issuer = "$ISSUER"
client_id = "$CLIENT"
client_secret_env = "TD_SECRET"
TOML
export TD_SECRET=post-secret
node "$ROOT/tests/oidc/mint.js" "$ISSUER" "$CLIENT" post-secret client_secret_post \
  "openid offline_access" | "$TOKDASH" import p >/dev/null
count() { curl -s "$ISSUER/_test/token-requests/$CLIENT" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
BEFORE=$(count)
TMUX_SOCK=$WORK/tmux.sock
tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -x 100 -y 20 \
  "env TOKDASH_CONFIG=$TOKDASH_CONFIG TOKDASH_STORE=$TOKDASH_STORE XDG_STATE_HOME=$XDG_STATE_HOME TD_SECRET=$TD_SECRET $TOKDASH"
sleep "$SECS"
AFTER=$(count)
echo "RESULT dashboard: $((AFTER - BEFORE)) token requests in ${SECS} s for one profile with 60 s tokens ($TOKDASH)"
