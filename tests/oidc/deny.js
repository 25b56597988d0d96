// Denies a pending device code with the confirm page's Abort button, so its poller gets
// access_denied:
//   node deny.js ISSUER USER_CODE
import { deny, run } from './approve-lib.js';

run(async () => {
  const [issuer, userCode] = process.argv.slice(2);
  if (!issuer || !userCode) throw new Error('usage: deny.js ISSUER USER_CODE');
  await deny(issuer, userCode);
});
