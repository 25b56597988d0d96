// Asks the introspection endpoint whether TOKEN is active, authenticating with
// client_secret_post (or as a public client when CLIENT_SECRET is ''):
//   node introspect.js ISSUER CLIENT_ID CLIENT_SECRET TOKEN
// Prints the JSON, e.g. {"active":true,...} or {"active":false}.
import { clientAuth, postForm, run } from './approve-lib.js';

run(async () => {
  const [issuer, clientId, secret, token] = process.argv.slice(2);
  if (!issuer || !clientId || secret === undefined || !token) {
    throw new Error('usage: introspect.js ISSUER CLIENT_ID CLIENT_SECRET TOKEN');
  }
  const auth = clientAuth(secret === '' ? 'none' : 'client_secret_post', clientId, secret);
  const res = await postForm(`${issuer}/token/introspection`, { ...auth.params, token }, auth.headers);
  if (res.status !== 200 || res.json === undefined) {
    throw new Error(`POST /token/introspection: ${res.status} ${res.text}`);
  }
  process.stdout.write(`${JSON.stringify(res.json)}\n`);
});
