// Mints N independent grants (one device flow each) in one node process, CONC at a time, and
// prints one token response (JSON) per line. One process instead of N `node mint.js` runs
// saves ~N node start-ups; every grant is its own, since rotation spends a refresh token once.
//   node bench/mint_many.mjs ISSUER N [CONC]
import { approve, clientAuth, postForm } from '../tests/oidc/approve-lib.js';

const [issuer, n, conc = '8'] = process.argv.slice(2);
const auth = clientAuth('client_secret_post', 'tokdash-post', 'post-secret');

async function mintOne() {
  const device = await postForm(`${issuer}/device/auth`,
    { ...auth.params, scope: 'openid offline_access email' });
  if (device.status !== 200) throw new Error(`device/auth ${device.status} ${device.text}`);
  await approve(issuer, device.json.user_code);
  const token = await postForm(`${issuer}/token`, {
    ...auth.params,
    grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
    device_code: device.json.device_code,
  });
  if (token.status !== 200 || !token.json?.refresh_token) {
    throw new Error(`token ${token.status} ${token.text}`);
  }
  return token.json;
}

let next = 0;
const out = new Array(Number(n));
async function lane() {
  while (next < out.length) {
    const i = next++;
    out[i] = await mintOne();
  }
}
await Promise.all(Array.from({ length: Number(conc) }, lane));
process.stdout.write(out.map((t) => JSON.stringify(t)).join('\n') + '\n');
