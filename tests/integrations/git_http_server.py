#!/usr/bin/env python3
# A smart-HTTP git server for the git-credential tests (after
# ../shared/integrations-recipes/git_http_auth.py), on http://127.0.0.1:<port>, by `git http-backend`.
#   git_http_server.py REPOS_ROOT RECORD USERNAME LOG -> prints "PORT <n>", then serves until stdin closes
# 401 (WWW-Authenticate: Basic, which git 2.39 and 2.47 both answer) unless Basic auth is
# USERNAME and, as password, the access token in RECORD (a tokdash store record, read at each
# request: the profile's current token). Logs {"m", "path", "user", "ok"} per line.
import base64, http.server, json, os, subprocess, sys, threading
root, record, username, logf = sys.argv[1:5]

def current():
    try:
        with open(record) as f:
            return json.load(f).get("access_token")
    except (OSError, ValueError):
        return None

class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        auth = self.headers.get("Authorization", "")
        user, pw = "", None
        if auth.startswith("Basic "):
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
        want = current()
        ok = want is not None and user == username and pw == want
        with open(logf, "a") as f:
            f.write(json.dumps({"m": self.command, "path": self.path, "user": user, "ok": ok}) + "\n")
        if not ok:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="tokdash-test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path, _, qs = self.path.partition("?")
        env = dict(os.environ, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL="1",
                   REQUEST_METHOD=self.command, PATH_INFO=path, QUERY_STRING=qs,
                   CONTENT_TYPE=self.headers.get("Content-Type", ""),
                   GIT_PROTOCOL=self.headers.get("Git-Protocol", ""), REMOTE_ADDR="127.0.0.1")
        head, _, out = subprocess.run(["git", "http-backend"], input=body, env=env,
                                      capture_output=True).stdout.partition(b"\r\n\r\n")
        hdrs = [l.decode().split(": ", 1) for l in head.split(b"\r\n") if l]
        status = next((int(v.split()[0]) for k, v in hdrs if k.lower() == "status"), 200)
        self.send_response(status)
        for k, v in hdrs:
            if k.lower() != "status":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    do_POST = do_GET

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
print("PORT", srv.server_address[1], flush=True)
sys.stdin.read()
