#!/usr/bin/env python3
# The baseline a script writer would reach for: one requests.post per profile, in a loop,
# the same request tokdash sends. Refresh tokens come from tokdash's store (the current ones).
#   python3 refresh_loop.py TOKEN_URL STORE_DIR
import glob, json, sys

import requests

url, store = sys.argv[1], sys.argv[2]
tokens = [json.load(open(f))["refresh_token"] for f in sorted(glob.glob(f"{store}/*.json"))
          if not f.split("/")[-1].startswith(".")]
failed = 0
for rt in tokens:
    r = requests.post(url, data={"grant_type": "refresh_token", "refresh_token": rt,
                                 "client_id": "tokdash-post", "client_secret": "post-secret"})
    if r.status_code != 200 or "refresh_token" not in r.json():
        failed += 1
print(f"python: {len(tokens)} refreshes, {failed} failed")
sys.exit(1 if failed else 0)
