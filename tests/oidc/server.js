// Test authorization server for tokdash's integration tests: oidc-provider on 127.0.0.1.
//
//   node tests/oidc/server.js     ->  prints one line "READY http://127.0.0.1:<port>" on stdout
//
// Env:
//   OIDC_AT_TTL=<seconds>  access token (and client credentials token) lifetime, default 60
//   OIDC_ROTATE=0          do not rotate refresh tokens (default: rotate on every refresh)
//   OIDC_RT_TTL=<seconds>  refresh token lifetime, default 86400. With rotation on, every refresh
//                          issues a new refresh token with a fresh TTL: an idle window
//   OIDC_DEBUG=1           log error events (grant.error, server_error, ...) to stderr; the
//                          token endpoint only ever says "grant request is invalid"
//
// It exits on SIGTERM/SIGINT and when its stdin closes, so a test process that dies without
// killing it does not leave it behind. Every start makes new keys and an empty store.
import http from 'node:http';

import Provider from 'oidc-provider';

// stdout carries only the READY line (a test may stop reading it after that): oidc-provider's
// NOTICE lines go through console.info, so send console.info/log to stderr.
console.info = console.error;
console.log = console.error;

// Clients the tests use. Keep in sync with tests/it/support/oidc.rs.
const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const USER_GRANTS = [DEVICE, 'refresh_token'];
const clients = [
  {
    client_id: 'tokdash-post',
    client_secret: 'post-secret',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: USER_GRANTS,
    response_types: [],
    redirect_uris: [],
  },
  {
    client_id: 'tokdash-basic',
    // Needs RFC 6749 §2.3.1 form-encoding inside the Basic header ('+', '%', ':' , '/', '@').
    client_secret: 'b@sic+sec:ret%/x',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: USER_GRANTS,
    response_types: [],
    redirect_uris: [],
  },
  {
    client_id: 'tokdash-public',
    token_endpoint_auth_method: 'none',
    grant_types: USER_GRANTS,
    response_types: [],
    redirect_uris: [],
  },
  {
    client_id: 'tokdash-cc',
    client_secret: 'cc-secret',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'api',
  },
  // Authorization code clients (the browser login): native, so that a loopback redirect
  // matches on any port (RFC 8252 §7.3), PKCE as every client here may use it.
  ...[
    ['tokdash-code-public', 'none', undefined],
    ['tokdash-code-post', 'client_secret_post', 'post-secret'],
    ['tokdash-code-basic', 'client_secret_basic', 'b@sic+sec:ret%/x'],
    ['tokdash-code-tui', 'none', undefined],
  ].map(([client_id, method, secret]) => ({
    client_id,
    ...(secret ? { client_secret: secret } : {}),
    token_endpoint_auth_method: method,
    application_type: 'native',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'],
  })),
];

// Clients made on demand, by name, the first time a request names them: one server is shared
// by many tests, and a test that counts its requests (GET /_test/token-requests/<id>), or must
// otherwise be alone with its client, takes a name of its own.
//   <static id>-own-<tag>          a copy of a static client above under that name, e.g.
//                                  tokdash-basic-own-17, tokdash-code-post-own-3
//   tokdash-ttl-<seconds>[-<tag>]  client_secret_post like tokdash-post (secret post-secret),
//                                  its access tokens living <seconds> (see ttl.AccessToken below),
//                                  whatever OIDC_AT_TTL says: one server serves the short and
//                                  long lifetimes real deployments issue
// <tag> is letters, digits, '-' and '_'. Any other unknown id is an unknown client.
const TAG = '[A-Za-z0-9_-]+';
const OWN = new RegExp(`^(.+)-own-${TAG}$`);
const TTL = new RegExp(`^tokdash-ttl-\\d+(-${TAG})?$`);
function clientOnDemand(id) {
  const own = OWN.exec(id);
  const base = own && clients.find((c) => c.client_id === own[1]);
  if (base) return structuredClone({ ...base, client_id: id });
  if (TTL.test(id)) {
    return {
      client_id: id,
      client_secret: 'post-secret',
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: USER_GRANTS,
      response_types: [],
      redirect_uris: [],
    };
  }
  return undefined;
}

/** `tokdash-ttl-<seconds>[-tag]` clients get that lifetime; the rest OIDC_AT_TTL. */
function lifetimeOf(client, fallback) {
  const m = /^tokdash-ttl-(\d+)/.exec(client?.clientId ?? '');
  return m ? Number(m[1]) : fallback;
}

// Token endpoint requests per client id, as epoch milliseconds: GET /_test/token-requests/<id>
// answers the JSON array. It is how a test proves that tokdash sent no request (or when it did).
const tokenRequests = new Map();
function logTokenRequest(ctx) {
  const id = ctx.oidc?.client?.clientId;
  if (!id) return;
  if (!tokenRequests.has(id)) tokenRequests.set(id, []);
  tokenRequests.get(id).push(Date.now());
}

// Unbounded in-memory adapter. The bundled MemoryAdapter is an LRU of 1,000 entries, which can
// evict live grants and refresh tokens during a long test run. Entries expire like the bundled
// one's (at expiresIn; clockTolerance is 0 here), but nothing is ever evicted for space.
const store = new Map(); // key "Model:id" -> { payload, expiresAt (ms epoch | Infinity) }
const grantMembers = new Map(); // grantId -> Set of keys, for revokeByGrantId
const userCodes = new Map(); // userCode -> DeviceCode id
const uids = new Map(); // Session uid -> Session id
// Only these models belong to a grant and die with it (as in the bundled adapter).
const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode',
]);

function live(key) {
  const entry = store.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return entry.payload;
}

class MapAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    store.set(key, { payload, expiresAt });
    if (GRANTABLE.has(this.model) && payload.grantId) {
      if (!grantMembers.has(payload.grantId)) grantMembers.set(payload.grantId, new Set());
      grantMembers.get(payload.grantId).add(key);
    }
    if (payload.userCode) userCodes.set(payload.userCode, id);
    if (this.model === 'Session' && payload.uid) uids.set(payload.uid, id);
  }

  async find(id) {
    // oidc-provider asks the adapter for any client not in the static list.
    if (this.model === 'Client') return clientOnDemand(id);
    return live(this.key(id));
  }

  async findByUserCode(userCode) {
    const id = userCodes.get(userCode);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUid(uid) {
    const id = uids.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const payload = live(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const key of grantMembers.get(grantId) ?? []) store.delete(key);
    grantMembers.delete(grantId);
  }
}

const accessTokenTtl = Number(process.env.OIDC_AT_TTL ?? '60');
if (!Number.isSafeInteger(accessTokenTtl) || accessTokenTtl <= 0) {
  console.error(`OIDC_AT_TTL must be a positive integer, got ${process.env.OIDC_AT_TTL}`);
  process.exit(2);
}
const rotate = process.env.OIDC_ROTATE !== '0';
const refreshTokenTtl = Number(process.env.OIDC_RT_TTL ?? '86400');
if (!Number.isSafeInteger(refreshTokenTtl) || refreshTokenTtl <= 0) {
  console.error(`OIDC_RT_TTL must be a positive integer, got ${process.env.OIDC_RT_TTL}`);
  process.exit(2);
}

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  // The issuer must carry the real port, so the provider is built only once it is known;
  // requests cannot arrive before the READY line anyway.
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    adapter: MapAdapter,
    clients,
    // Any login at the dev pages is an account; email so the `email` scope has a claim to give.
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() {
          return { sub: id, email: `${id}@example.test` };
        },
      };
    },
    claims: {
      openid: ['sub'],
      email: ['email'],
      profile: ['name'],
    },
    // 'api' is a plain scope (no resource indicators: tokens stay opaque and introspectable).
    scopes: ['openid', 'offline_access', 'email', 'profile', 'api'],
    // Default is 15 s: an expired token would keep working. Tests watch expiry exactly.
    clockTolerance: 0,
    // Fixed keys only silence a warning; cookies need not survive a restart.
    cookies: { keys: ['tokdash-test-cookie-key'] },
    features: {
      devInteractions: { enabled: true }, // built-in login/consent pages accept anything
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
      clientCredentials: { enabled: true },
      userinfo: { enabled: true },
    },
    // The default (offline_access in the grant + client allows refresh_token) is what we want;
    // spelled out so the rule is visible here.
    async issueRefreshToken(ctx, client, code) {
      return client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access');
    },
    // Default rotates only for public clients or after 70 % of the TTL: make it deterministic.
    rotateRefreshToken: () => rotate,
    ttl: {
      AccessToken: (ctx, token, client) => lifetimeOf(client, accessTokenTtl),
      ClientCredentials: accessTokenTtl,
      DeviceCode: 600,
      RefreshToken: refreshTokenTtl,
      Grant: 30 * 86400,
      Session: 30 * 86400,
      Interaction: 3600,
      IdToken: 3600,
    },
  });

  if (process.env.OIDC_DEBUG === '1') {
    const events = [
      'server_error', 'grant.error', 'grant.revoked', 'introspection.error', 'revocation.error',
      'device_authorization.error', 'code_verification.error', 'device_resume.error',
      'userinfo.error', 'interaction.error', 'end_session.error', 'jwks.error',
      'discovery.error', 'check_session.error',
    ];
    for (const name of events) {
      provider.on(name, (ctx, err) => {
        // grant.revoked passes (ctx, grantId); the *.error events pass (ctx, err).
        // error_detail is the real reason (e.g. why invalid_grant), never sent to the client.
        const detail = err instanceof Error
          ? [err.name, err.message, err.error_description, err.error_detail]
            .filter(Boolean).join(': ')
          : String(err);
        console.error(`[oidc] ${name}: ${detail}`);
      });
    }
  }

  provider.on('grant.success', logTokenRequest);
  provider.on('grant.error', logTokenRequest);

  const callback = provider.callback();
  server.on('request', (req, res) => {
    const prefix = '/_test/token-requests/';
    if (req.method === 'GET' && req.url.startsWith(prefix)) {
      const id = decodeURIComponent(req.url.slice(prefix.length));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(tokenRequests.get(id) ?? []));
      return;
    }
    callback(req, res);
  });
  process.stdout.write(`READY ${issuer}\n`);
});

function shutdown() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
// Stdin is the parent's lifeline: when the parent (a test) exits, its end of the pipe closes.
// By hand, keep stdin open: run it in a terminal, or `sleep infinity | node server.js`
// (with stdin at /dev/null it would stop at once).
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.resume();
