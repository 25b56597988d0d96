// Drives oidc-provider's own device-flow HTML pages the way a person in a browser would, so tests
// need no browser: GET /device (session cookie + xsrf), POST the user code, then the dev
// login and consent pages. Also the client-authentication and form-POST helpers the other
// scripts share. Uses Node's built-in fetch; redirects are followed by hand because fetch
// neither keeps cookies across them nor lets us see the intermediate Set-Cookie headers.

// RFC 6749 §2.3.1: client_id and secret go through application/x-www-form-urlencoded encoding
// before being joined with ':' for HTTP Basic. URLSearchParams does exactly that encoding.
export function formEncode(value) {
  return new URLSearchParams([['', value]]).toString().slice(1);
}

// Client authentication for `method`, as extra headers and extra form parameters.
export function clientAuth(method, clientId, secret) {
  switch (method) {
    case 'client_secret_post':
      return { headers: {}, params: { client_id: clientId, client_secret: secret ?? '' } };
    case 'client_secret_basic': {
      const pair = `${formEncode(clientId)}:${formEncode(secret ?? '')}`;
      return {
        headers: { authorization: `Basic ${Buffer.from(pair, 'utf8').toString('base64')}` },
        params: {},
      };
    }
    case 'none':
      return { headers: {}, params: { client_id: clientId } };
    default:
      throw new Error(`unknown client auth method ${method}`);
  }
}

// POST a form and return { status, json (or undefined), text }.
export async function postForm(url, params, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
    redirect: 'manual',
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

// Minimal cookie jar: name+path -> value, sent to paths under the cookie's path. Enough for
// oidc-provider's _session / _interaction / _interaction_resume (and their .sig) cookies, which
// are path-scoped to /interaction/<uid> and /device/<uid>.
class CookieJar {
  constructor() {
    this.cookies = new Map();
  }

  store(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let expired = value === '';
      for (const attr of attrs) {
        const [k, v = ''] = attr.split('=');
        const key = k.toLowerCase();
        if (key === 'path') path = v;
        if (key === 'expires' && Date.parse(v) <= Date.now()) expired = true;
        if (key === 'max-age' && Number(v) <= 0) expired = true;
      }
      const id = `${name}\n${path}`;
      if (expired) this.cookies.delete(id);
      else this.cookies.set(id, { name, value, path });
    }
  }

  header(url) {
    const { pathname } = new URL(url);
    return [...this.cookies.values()]
      .filter(({ path }) => pathname === path || pathname.startsWith(path.endsWith('/') ? path : `${path}/`))
      .map(({ name, value }) => `${name}=${value}`)
      .join('; ');
  }
}

// One browser: a cookie jar and a request function that follows redirects by hand.
class Browser {
  constructor() {
    this.jar = new CookieJar();
  }

  // GET (form undefined) or POST a form; follows redirects with GET. Returns the final page.
  // A redirect that leaves `stayOn` (an origin) is not followed: it comes back as { leftTo }.
  async go(url, form, stayOn) {
    let method = form ? 'POST' : 'GET';
    let body = form ? new URLSearchParams(form).toString() : undefined;
    for (let hops = 0; hops < 10; hops += 1) {
      const headers = { cookie: this.jar.header(url) };
      if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
      const res = await fetch(url, { method, headers, body, redirect: 'manual' });
      this.jar.store(res);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.arrayBuffer();
        url = new URL(location, url).href;
        if (stayOn && new URL(url).origin !== stayOn) return { status: res.status, leftTo: url };
        method = 'GET';
        body = undefined;
        continue;
      }
      return { status: res.status, url, html: await res.text() };
    }
    throw new Error(`too many redirects, last at ${url}`);
  }
}

// Reads the value of <input ... name="NAME" ... value="..."> (attribute order as oidc-provider
// writes them: name before value, or value before name).
function inputValue(html, name) {
  const tag = html.match(new RegExp(`<input[^>]*name="${name}"[^>]*>`))?.[0];
  return tag?.match(/value="([^"]*)"/)?.[1];
}

function formAction(html, pageUrl) {
  const action = html.match(/<form[^>]*action="([^"]*)"/)?.[1];
  if (!action) throw new Error(`no form on page ${pageUrl}: ${excerpt(html)}`);
  return new URL(action.replaceAll('&amp;', '&'), pageUrl).href;
}

function excerpt(html) {
  const text = html.replace(/<style[\s\S]*?<\/style>/g, '').replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ').trim();
  return text.slice(0, 300);
}

// GET /device and POST the user code with `extra` (confirm=yes, or abort=yes); returns the page.
async function submitUserCode(browser, issuer, userCode, extra) {
  const page = await browser.go(`${issuer}/device`);
  const xsrf = inputValue(page.html, 'xsrf');
  if (page.status !== 200 || !xsrf) {
    throw new Error(`GET /device: status ${page.status}, no xsrf: ${excerpt(page.html)}`);
  }
  return browser.go(formAction(page.html, page.url), { xsrf, user_code: userCode, ...extra });
}

// The device-page re-renders answer 200 for bad codes too; tell them apart by their text.
function checkCodePage(page) {
  if (/code you entered is incorrect/.test(page.html)) {
    throw new Error('user code not found, expired or already used');
  }
  if (/error processing your request/.test(page.html)) {
    throw new Error(`device page error: ${excerpt(page.html)}`);
  }
}

// Approves USER_CODE as user `login` (any login works with devInteractions): confirm the code,
// sign in, consent (which grants every requested scope, offline_access included), and end on
// the "Sign-in Success" page. Throws an Error saying what page it got stuck on.
export async function approve(issuer, userCode, { login = 'tokdash-user' } = {}) {
  const browser = new Browser();
  let page = await submitUserCode(browser, issuer, userCode, { confirm: 'yes' });
  for (let step = 0; step < 6; step += 1) {
    if (page.status === 200 && /Sign-in Success/.test(page.html)) return;
    checkCodePage(page);
    const prompt = inputValue(page.html, 'prompt');
    if (page.status !== 200 || !prompt) {
      throw new Error(`unexpected page ${page.url} (status ${page.status}): ${excerpt(page.html)}`);
    }
    const form = prompt === 'login'
      ? { prompt, login, password: 'any-password' }
      : { prompt };
    page = await browser.go(formAction(page.html, page.url), form);
  }
  throw new Error(`approval did not finish, last page ${page.url}: ${excerpt(page.html)}`);
}

// Drives an authorization request (the authorization code grant) as a person in a browser: open
// AUTH_URL, sign in as `login`, consent, and return the address the server redirects to (the
// client's callback, with code, state and iss) without loading it. `consent: false` presses the
// consent page's Abort instead, which redirects with error=access_denied.
export async function authorize(authUrl, { login = 'tokdash-user', consent = true } = {}) {
  const browser = new Browser();
  const origin = new URL(authUrl).origin;
  let page = await browser.go(authUrl, undefined, origin);
  for (let step = 0; step < 6; step += 1) {
    if (page.leftTo) return page.leftTo;
    const prompt = inputValue(page.html, 'prompt');
    if (page.status !== 200 || !prompt) {
      throw new Error(`unexpected page ${page.url} (status ${page.status}): ${excerpt(page.html)}`);
    }
    if (prompt === 'consent' && !consent) {
      const abort = page.html.match(/href="([^"]*abort[^"]*)"/)?.[1];
      if (!abort) throw new Error(`no abort link on the consent page: ${excerpt(page.html)}`);
      page = await browser.go(new URL(abort.replaceAll('&amp;', '&'), page.url).href, undefined, origin);
      continue;
    }
    const form = prompt === 'login'
      ? { prompt, login, password: 'any-password' }
      : { prompt };
    page = await browser.go(formAction(page.html, page.url), form, origin);
  }
  throw new Error(`authorization did not finish, last page ${page.url}`);
}

// Denies USER_CODE: the confirm page's "[ Abort ]" button (abort=yes). The device code then
// answers access_denied to its poller.
export async function deny(issuer, userCode) {
  const browser = new Browser();
  const page = await submitUserCode(browser, issuer, userCode, { abort: 'yes' });
  if (page.status === 200 && /Sign-in request was interrupted/.test(page.html)) return;
  checkCodePage(page);
  throw new Error(`abort not confirmed (status ${page.status}): ${excerpt(page.html)}`);
}

// For the CLI scripts: run main, print an Error's message on stderr and exit 1.
export function run(main) {
  main().catch((err) => {
    console.error(`${process.argv[1].split('/').pop()}: ${err.message}`);
    process.exit(1);
  });
}
