#!/usr/bin/env python3
# gen_profiles.py N CONFIG STORE: a config of N profiles and a valid token record for each,
# written straight into the store (0600 files in a 0700 dir, the layout of src/store/record.rs),
# which takes a second where N `tokdash import` runs would take a minute.
# Token sizes follow what each provider really issues, since the dashboard keeps records in
# memory: Google ya29 access 220 / refresh 103 / id 1000; Entra JWT access 2000 / refresh 1100 /
# id 1300; Auth0 JWT access 900 / refresh 48 / id 1000; plain OAuth 2.0 opaque 43 / 43, no id.
# Expiries spread over 30 min to 2 h (nothing auto-refreshes while measuring); last refresh
# in the last hour, so both countdown columns move every second as they do for real.
# gen_profiles.py N CONFIG STORE --login-ends K: every record also has the end of its login
# (`refresh_expires_at`, and `family_started_at`): every K-th profile's login ends within 1 h to
# 3 d (inside the default login_warning, 7 d, so `health` lists it), the others' in 30 to 90 d.
import json, os, random, string, sys, time

n, config, store = int(sys.argv[1]), sys.argv[2], sys.argv[3]
login_ends = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--login-ends" else 0
rng = random.Random(1)  # the same profiles on every run
chars = string.ascii_letters + string.digits + "-_"
tok = lambda k: "".join(rng.choice(chars) for _ in range(k))
kinds = [
    ("google", "", (220, 103, 1000)),
    ("microsoft", 'tenant = "contoso.onmicrosoft.com"\n', (2000, 1100, 1300)),
    ("auth0", 'domain = "example.eu.auth0.com"\n', (900, 48, 1000)),
    ("oauth2", 'token_url = "https://auth.example.com/token"\n', (43, 43, 0)),
]
now = int(time.time())
os.makedirs(store, mode=0o700, exist_ok=True)
with open(config, "w") as cfg:
    for i in range(n):
        name = f"team{i // 100:03d}-svc{i % 100:02d}"
        kind, extra, (at, rt, idt) = kinds[i % len(kinds)]
        cfg.write(f'[profiles.{name}]\nprovider = "{kind}"\n{extra}client_id = "client-{i}"\n'
                  f'client_secret_env = "BENCH_SECRET"\n\n')
        record = {"access_token": tok(at), "refresh_token": tok(rt), "token_type": "Bearer",
                  "scope": "openid email offline_access",
                  "expires_at": now + rng.randint(1800, 7200), "obtained_at": now - 600,
                  "last_refresh": now - rng.randint(60, 3600), "standing": "active",
                  "generation": 1}
        if idt:
            record["id_token"] = tok(idt)
        if login_ends:
            soon = i % login_ends == 0
            record["refresh_expires_at"] = now + (rng.randint(3600, 3 * 86400) if soon
                                                  else rng.randint(30 * 86400, 90 * 86400))
            record["family_started_at"] = now - 86400
        path = os.path.join(store, f"{name}.json")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(record, f, indent=2)
