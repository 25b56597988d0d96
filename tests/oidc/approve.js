// Approves a pending device code through the server's pages (for when tokdash is the poller):
//   node approve.js ISSUER USER_CODE
import { approve, run } from './approve-lib.js';

run(async () => {
  const [issuer, userCode] = process.argv.slice(2);
  if (!issuer || !userCode) throw new Error('usage: approve.js ISSUER USER_CODE');
  await approve(issuer, userCode);
});
