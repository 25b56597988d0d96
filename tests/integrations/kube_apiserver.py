#!/usr/bin/env python3
# A Kubernetes API server stand-in for the kube-credential tests (after
# ../shared/integrations-recipes/kube_fake_apiserver.py), on https://127.0.0.1:<port>.
#   kube_apiserver.py CERT KEY RECORD FIELD LOG  -> prints "PORT <n>", then serves until stdin closes
# Accepts only "Authorization: Bearer <token>" where <token> is RECORD's FIELD (a tokdash store
# record, read at each request: the profile's current token). Logs {"path", "auth", "ok"} per line.
import http.server, json, ssl, sys, threading
cert, key, record, field, logf = sys.argv[1:6]

def current():
    try:
        with open(record) as f:
            return json.load(f).get(field)
    except (OSError, ValueError):
        return None

class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        auth = self.headers.get("Authorization")
        want = current()
        ok = want is not None and auth == "Bearer " + want
        with open(logf, "a") as f:
            f.write(json.dumps({"path": self.path, "auth": auth, "ok": ok}) + "\n")
        body = json.dumps({"major": "1", "minor": "37", "gitVersion": "v1.37.1"} if ok else
                          {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                           "reason": "Unauthorized", "code": 401}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
threading.Thread(target=srv.serve_forever, daemon=True).start()
print("PORT", srv.server_address[1], flush=True)
sys.stdin.read()  # the test holds our stdin: we end when it does
