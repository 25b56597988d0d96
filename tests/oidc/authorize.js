// Signs in and consents at an authorization URL as a person would, and prints the address the
// server sends the browser back to (not loaded):
//   node authorize.js ISSUER AUTH_URL [deny]
import { authorize, run } from './approve-lib.js';

run(async () => {
  const [, authUrl, mode] = process.argv.slice(2);
  if (!authUrl) throw new Error('usage: authorize.js ISSUER AUTH_URL [deny]');
  process.stdout.write(`${await authorize(authUrl, { consent: mode !== 'deny' })}\n`);
});
