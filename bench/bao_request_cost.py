#!/usr/bin/env python3
"""OpenBao's own CPU per request, by request shape, against a running server.

Usage: bao_request_cost.py ADDR TOKEN SERVER_PID [COUNT]
Sends COUNT sequential requests of each shape over one keep-alive connection and reads the
server's CPU (utime + stime) from /proc before and after: what the team store's requests cost
the server, load-independent enough to compare shapes (the client is a separate process).
"""
import http.client, json, os, sys, urllib.parse

addr, token, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
count = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
u = urllib.parse.urlparse(addr)
conn = http.client.HTTPConnection(u.hostname, u.port)
tick = os.sysconf("SC_CLK_TCK")

def cpu():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick

def call(method, path, body=None, ctype="application/json"):
    h = {"X-Vault-Token": token}
    if body is not None:
        h["Content-Type"] = ctype
        body = json.dumps(body)
    conn.request(method, "/v1/secret/" + path, body=body, headers=h)
    r = conn.getresponse(); data = r.read()
    return r.status, (json.loads(data) if data else None)

record = {"access_token": "a" * 1200, "refresh_token": "r" * 900, "expires_at": 1764547200,
          "token_type": "Bearer", "scope": "openid offline_access", "generation": 7,
          "id_token": "i" * 600}
lease = {"holder": "host/1234/abcdef01", "ttl_ms": 60000}
keys = [f"cost/k{i:05d}" for i in range(count)]

def measure(name, fn):
    before = cpu()
    for i, k in enumerate(keys):
        fn(i, k)
    spent = cpu() - before
    print(f"{name:48s} {spent / count * 1000:.3f} ms server CPU per request")

versions = {}
def write_new(i, k):
    s, b = call("POST", "data/" + k, {"data": {"record": record, "nonce": str(i)}, "options": {"cas": 0}})
    versions[k] = b["data"]["version"]
call("DELETE", "metadata/cost") 
measure("create (cas 0), 3 KB record", write_new)
measure("read, 3 KB record", lambda i, k: call("GET", "data/" + k))
def write_lease_full(i, k):
    s, b = call("POST", "data/" + k, {"data": {"record": record, "nonce": str(i), "lease": lease}, "options": {"cas": versions[k]}})
    assert s == 200, (s, b); versions[k] = b["data"]["version"]
measure("write with cas, 3 KB record + lease", write_lease_full)
def patch_lease(i, k):
    s, b = call("PATCH", "data/" + k, {"data": {"lease": lease, "nonce": "p" + str(i)}, "options": {"cas": versions[k]}}, "application/merge-patch+json")
    assert s == 200, (s, b); versions[k] = b["data"]["version"]
measure("PATCH lease with cas (merge)", patch_lease)
def write_rec(i, k):
    s, b = call("POST", "data/" + k, {"data": {"record": record, "nonce": "w" + str(i)}, "options": {"cas": versions[k]}})
    assert s == 200, (s, b); versions[k] = b["data"]["version"]
measure("write with cas, 3 KB record", write_rec)
small = [f"cost/l{i:05d}" for i in range(count)]
lv = {}
def small_write(i, k):
    k = small[i]
    s, b = call("POST", "data/" + k, {"data": {"held": True, "holder": "h", "ttl_ms": 60000, "nonce": str(i)}, "options": {"cas": lv.get(k, 0)}})
    assert s == 200, (s, b); lv[k] = b["data"]["version"]
measure("write with cas, small lease entry", small_write)
measure("delete one version (small lease entry)", lambda i, k: call("POST", "delete/" + small[i], {"versions": [lv[small[i]]]}))
call("DELETE", "metadata/cost")
