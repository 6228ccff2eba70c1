// A fake GitHub / Google for the browser tests: authorize, token (PKCE S256 checked),
// GitHub's /user and Google's /userinfo. Plain Node, no dependencies.
import { createServer } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';

const port = Number(process.env.FAKE_OAUTH_PORT ?? 3101);
const grants = new Map();
const tokens = new Map();

const githubUser = { id: 424242, login: 'octocat', name: 'The Octocat', avatar_url: null };
// Tests that need another GitHub account ask for it with POST /next-github-user?id=…&login=…:
// the next code traded is for that account (one exchange only).
let nextGithubUser = null;
// POST /deny-next: the next authorization is refused as a user who clicks "Cancel" would
// (error=access_denied back to the app).
let denyNext = false;
const googleUser = { sub: '1098765', name: 'Ada Lovelace', email: 'ada.e2e@example.com', email_verified: true };

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

function b64url(buffer) {
  return Buffer.from(buffer).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const server = createServer((req, res) => {
  const url = new URL(req.url, `http://127.0.0.1:${port}`);
  if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, 'ok');
  if (req.method === 'POST' && url.pathname === '/next-github-user') {
    nextGithubUser = { id: Number(url.searchParams.get('id')), login: url.searchParams.get('login'), name: null, avatar_url: null };
    return send(res, 200, { ok: true });
  }
  if (req.method === 'POST' && url.pathname === '/deny-next') {
    denyNext = true;
    return send(res, 200, { ok: true });
  }
  if (req.method === 'GET' && url.pathname === '/authorize') {
    const q = url.searchParams;
    if (denyNext) {
      denyNext = false;
      const back = new URL(q.get('redirect_uri'));
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('state', q.get('state'));
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (q.get('code_challenge_method') !== 'S256') return send(res, 400, { error: 'pkce required' });
    const code = b64url(randomBytes(16));
    grants.set(code, { challenge: q.get('code_challenge'), nonce: q.get('nonce'), clientId: q.get('client_id') });
    const back = new URL(q.get('redirect_uri'));
    back.searchParams.set('code', code);
    back.searchParams.set('state', q.get('state'));
    res.writeHead(302, { location: back.toString() });
    return res.end();
  }
  if (req.method === 'POST' && url.pathname === '/token') {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const grant = grants.get(form.get('code'));
      grants.delete(form.get('code'));
      if (!grant) return send(res, 400, { error: 'invalid_grant' });
      const challenge = b64url(createHash('sha256').update(form.get('code_verifier') ?? '').digest());
      if (challenge !== grant.challenge) return send(res, 400, { error: 'invalid_grant' });
      const access = b64url(randomBytes(16));
      tokens.set(access, grant.nonce ? googleUser : (nextGithubUser ?? githubUser));
      nextGithubUser = null;
      const answer = { access_token: access, token_type: 'bearer' };
      if (grant.nonce) {
        const claims = { iss: 'https://accounts.google.com', sub: googleUser.sub, aud: grant.clientId, exp: Math.floor(Date.now() / 1000) + 300, nonce: grant.nonce };
        answer.id_token = `${b64url('{"alg":"RS256"}')}.${b64url(JSON.stringify(claims))}.sig`;
      }
      send(res, 200, answer);
    });
    return;
  }
  if (req.method === 'GET' && (url.pathname === '/user' || url.pathname === '/userinfo')) {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (!tokens.has(token)) return send(res, 401, { error: 'bad token' });
    return send(res, 200, tokens.get(token));
  }
  send(res, 404, { error: 'not found' });
});

server.listen(port, '127.0.0.1');
