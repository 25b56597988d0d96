#!/usr/bin/env bash
# The team store (issue 13), side by side with the file store in one run, against one
# authorization server (rotation on) and one `bao server -dev` on loopback:
#   refresh --all --force of N profiles: file store, then team store (goal: team <= 2.5x file)
#   tokdash token start-up on the team store (and on the file store, for scale)
#   requests per second that an idle dashboard with M profiles sends to OpenBao (goal <= 5),
#   counted by a loopback proxy in front of it (OpenBao 2.7 enables audit devices only from
#   its config file, not through the API of a dev server).
# Env: N (500), M (1000), REPS (3), BAO (the bao binary; default: bao on PATH, else the venv of
# scripts/test.sh).
source "$(dirname "$0")/lib.sh"
N=${N:-500} M=${M:-1000} REPS=${REPS:-3}
BAO=${BAO:-$(command -v bao || echo "$HOME/.cache/tokdash-tests/openbao-2.7.2/bin/bao")}
build
machine
start_server

# OpenBao dev server on a free even port, its audit log in WORK.
PORT=$(python3 -c 'import socket
for _ in range(100):
    s=socket.socket(); s.bind(("127.0.0.1",0)); p=s.getsockname()[1] & ~1; s.close()
    try:
        a=socket.socket(); a.bind(("127.0.0.1",p)); b=socket.socket(); b.bind(("127.0.0.1",p+1)); a.close(); b.close(); print(p); break
    except OSError: pass')
HOME=$WORK "$BAO" server -dev -dev-root-token-id=root -dev-no-store-token \
  -dev-listen-address="127.0.0.1:$PORT" >"$WORK/bao.log" 2>&1 &
PIDS+=($!); BAO_PID=$!
export BAO_ADDR=http://127.0.0.1:$PORT BAO_TOKEN=root
for _ in $(seq 100); do curl -sf "$BAO_ADDR/v1/sys/health" >/dev/null && break; sleep 0.1; done

# A loopback proxy in front of OpenBao that counts the requests sent through it (request lines in
# the client's bytes): for the requests per refresh, and the idle dashboard's requests per second.
PROXY_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$PROXY_PORT" "$PORT" "$WORK/requests" <<'PY' &
import socket, sys, threading
listen, upstream, counter = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
count = 0; lock = threading.Lock()
def pump(src, dst, counting):
    global count
    try:
        while True:
            data = src.recv(65536)
            if not data: break
            if counting:
                with lock:
                    count += data.count(b" HTTP/1.1\r\n")
                    open(counter, "w").write(str(count))
            dst.sendall(data)
    except OSError: pass
    finally:
        try: dst.shutdown(socket.SHUT_WR)
        except OSError: pass
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", listen)); srv.listen(64)
while True:
    c, _ = srv.accept(); u = socket.create_connection(("127.0.0.1", upstream))
    threading.Thread(target=pump, args=(c, u, True), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, False), daemon=True).start()
PY
PIDS+=($!)

t0=$(date +%s.%N)
timeout 1200 node "$ROOT/bench/mint_many.mjs" "$ISSUER" $((2 * N)) 8 >"$WORK/minted"
echo "setup: minted $((2 * N)) grants in $(echo "$(date +%s.%N) - $t0" | bc) s"
profiles() { # COUNT
  for i in $(seq -w 1 "$1"); do
    printf '[profiles.p%s]\nprovider = "oidc"\nissuer = "%s"\nclient_id = "tokdash-post"\nclient_secret_env = "BENCH_SECRET"\n' "$i" "$ISSUER"
  done
}
export BENCH_SECRET=post-secret
FILE_CONFIG=$WORK/file.toml TEAM_CONFIG=$WORK/team.toml
{ echo '[settings]'; echo 'max_concurrency = 8'; profiles "$N"; } >"$FILE_CONFIG"
{ echo '[settings]'; echo 'max_concurrency = 8'
  printf '[store]\nbackend = "openbao"\naddress = "%s"\nprefix = "bench"\n' "$BAO_ADDR"; profiles "$N"; } >"$TEAM_CONFIG"
file() { TOKDASH_CONFIG=$FILE_CONFIG "$TOKDASH" "$@"; }
team() { env -u TOKDASH_STORE TOKDASH_CONFIG=$TEAM_CONFIG "$TOKDASH" "$@"; }
i=0
head -n "$N" "$WORK/minted" | while read -r response; do
  i=$((i + 1)); printf '%s' "$response" | file import "p$(printf "%0${#N}d" $i)" >/dev/null
done
i=0
tail -n "$N" "$WORK/minted" | while read -r response; do
  i=$((i + 1)); printf '%s' "$response" | team import "p$(printf "%0${#N}d" $i)" >/dev/null
done
file refresh --all --force >/dev/null; team refresh --all --force >/dev/null  # discovery cached, warm

for r in $(seq "$REPS"); do
  for which in file team; do
    b0=$(cpu_ticks "$BAO_PID") n0=$(cpu_ticks "$SERVER_PID")
    s=$(date +%s.%N)
    if [ "$which" = file ]; then cmd=(env "TOKDASH_CONFIG=$FILE_CONFIG"); else cmd=(env -u TOKDASH_STORE "TOKDASH_CONFIG=$TEAM_CONFIG"); fi
    /usr/bin/time -f '%U %S' -o "$WORK/self" "${cmd[@]}" "$TOKDASH" refresh --all --force >"$WORK/out" ||
      { echo "$which refresh --all failed"; exit 1; }
    e=$(date +%s.%N)
    [ "$(grep -c 'new refresh token stored' "$WORK/out")" = "$N" ] || { echo "$which: not all rotated"; exit 1; }
    echo "$which $(echo "$e - $s" | bc) $(( $(cpu_ticks "$BAO_PID") - b0 )) $(( $(cpu_ticks "$SERVER_PID") - n0 )) $(awk '{print int(($1 + $2) * 100)}' "$WORK/self")" >>"$WORK/times"
  done
done
# Requests per refresh: one more team run, through the counting proxy.
sed "s#^address = .*#address = \"http://127.0.0.1:$PROXY_PORT\"#" "$TEAM_CONFIG" >"$WORK/counted.toml"
before=$(cat "$WORK/requests" 2>/dev/null || echo 0)
env -u TOKDASH_STORE TOKDASH_CONFIG=$WORK/counted.toml "$TOKDASH" refresh --all --force >/dev/null
after=$(cat "$WORK/requests")
echo "RESULT team refresh --all --force n=$N: $((after - before)) requests to OpenBao, $(echo "scale=2; ($after - $before) / $N" | bc) per refresh" 
python3 - "$WORK/times" "$N" <<'PY'
import sys, statistics
t, cpu = {}, {}
for line in open(sys.argv[1]):
    k, v, bao, node, own = line.split(); t.setdefault(k, []).append(round(float(v), 3))
    cpu.setdefault(k, []).append((int(bao), int(node), int(own)))
f, m = statistics.median(t["file"]), statistics.median(t["team"])
print(f"RESULT team refresh --all --force n={sys.argv[2]}: file store median {f:.2f} s, team store median {m:.2f} s, ratio {m/f:.2f} (goal <= 2.5); runs file {t['file']} team {t['team']}")
for k in ("file", "team"):
    b, n, o = (statistics.median(c[i] for c in cpu[k]) / 100 for i in range(3))
    print(f"RESULT cpu during {k} runs (median): tokdash {o:.2f} s, OpenBao {b:.2f} s, authorization server {n:.2f} s")
PY

# token start-up: a fresh token, nothing sent to the provider.
RUNS=${RUNS:-30} WARMUP=5 hyperfine_results "token start-up" "$N" -- \
  "env -u TOKDASH_STORE TOKDASH_CONFIG=$TEAM_CONFIG $TOKDASH token p$(printf "%0${#N}d" 1)" \
  "env TOKDASH_CONFIG=$FILE_CONFIG $TOKDASH token p$(printf "%0${#N}d" 1)"

# Idle dashboard with M profiles on the team store: records for all of them (fresh tokens, so
# nothing is due), then count the requests it sends while it sits for 20 s.
DASH_CONFIG=$WORK/dash.toml
{ echo '[settings]'; printf '[store]\nbackend = "openbao"\naddress = "http://127.0.0.1:%s"\nprefix = "dash"\n' "$PROXY_PORT"
  for i in $(seq -w 1 "$M"); do
    printf '[profiles.d%s]\nprovider = "oauth2"\ntoken_url = "http://127.0.0.1:9/token"\nclient_id = "c"\n' "$i"
  done; } >"$DASH_CONFIG"
sleep 0.5
for i in $(seq -w 1 "$M"); do
  printf '{"access_token":"at-%s","refresh_token":"rt","expires_in":86400}' "$i" |
    env -u TOKDASH_STORE TOKDASH_CONFIG=$DASH_CONFIG "$TOKDASH" import "d$i" >/dev/null
done
TMUX_SOCK=$WORK/tmux.sock
tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -x 200 -y 50 \
  "env -u TOKDASH_STORE TOKDASH_CONFIG=$DASH_CONFIG BAO_TOKEN=root $TOKDASH"
sleep 5  # the first poll reads every record once
before=$(cat "$WORK/requests")
sleep 20
after=$(cat "$WORK/requests")
echo "RESULT idle dashboard m=$M on the team store: $(echo "scale=2; ($after - $before) / 20" | bc) requests/s to OpenBao (goal <= 5)"
