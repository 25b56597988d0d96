// Mints tokens through the whole device flow, as a person would approve it:
//   node mint.js ISSUER CLIENT_ID [CLIENT_SECRET] [AUTH_METHOD] [SCOPE]
// AUTH_METHOD: client_secret_post (default), client_secret_basic or none (CLIENT_SECRET may
// then be ''). SCOPE defaults to "openid offline_access email" (offline_access -> refresh
// token). Prints the token endpoint's JSON response on stdout and nothing else.
import {
  approve, clientAuth, postForm, run,
} from './approve-lib.js';

run(async () => {
  const [issuer, clientId, secret, method = 'client_secret_post',
    scope = 'openid offline_access email'] = process.argv.slice(2);
  if (!issuer || !clientId) {
    throw new Error('usage: mint.js ISSUER CLIENT_ID [CLIENT_SECRET] [AUTH_METHOD] [SCOPE]');
  }
  const auth = clientAuth(method, clientId, secret);

  const device = await postForm(`${issuer}/device/auth`, { ...auth.params, scope }, auth.headers);
  if (device.status !== 200 || !device.json?.device_code) {
    throw new Error(`POST /device/auth: ${device.status} ${device.text}`);
  }

  await approve(issuer, device.json.user_code);

  // Approved before the first poll, so one token request suffices (no interval, no
  // authorization_pending, no slow_down).
  const token = await postForm(`${issuer}/token`, {
    ...auth.params,
    grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
    device_code: device.json.device_code,
  }, auth.headers);
  if (token.status !== 200 || !token.json?.access_token) {
    throw new Error(`POST /token: ${token.status} ${token.text}`);
  }
  process.stdout.write(`${JSON.stringify(token.json)}\n`);
});
