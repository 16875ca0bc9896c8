// The stub upstream IdP for the brokered-login rows: the least an OpenID Provider must do, so
// it costs the shared machine little. Discovery, JWKS, an authorization endpoint that approves
// at once (code + state + iss, RFC 9207), and a token endpoint that checks the client, the code,
// the redirect URI and PKCE, and returns an RS256 ID token with the nonce it was given.
// For the bench's half-load run it also keeps its own handling time of each token request, by
// code (POST /bench/token-times with a JSON list of codes answers them), so the broker's own time
// in a callback can be told from the upstream's.
// Usage: node bench/stub-upstream.mjs PORT CLIENT_ID CLIENT_SECRET
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

const [portArg, clientId, clientSecret] = process.argv.slice(2);
const port = Number(portArg);
if (!port || !clientId || !clientSecret) {
  process.stderr.write('usage: stub-upstream.mjs PORT CLIENT_ID CLIENT_SECRET\n');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

// Generated once before any load: the per-login cost is one RS256 signature.
const { privateKey, publicKey } = await generateKeyPair('RS256', { modulusLength: 2048 });
const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'stub-1', alg: 'RS256', use: 'sig' }] });
const discovery = JSON.stringify({
  issuer,
  authorization_endpoint: `${issuer}/authorize`,
  token_endpoint: `${issuer}/token`,
  jwks_uri: `${issuer}/jwks`,
  response_types_supported: ['code'],
  subject_types_supported: ['public'],
  id_token_signing_alg_values_supported: ['RS256'],
  token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
  code_challenge_methods_supported: ['S256'],
  scopes_supported: ['openid', 'email', 'profile'],
  authorization_response_iss_parameter_supported: true,
});

// Codes live 60 s and work once; the map is bounded so a runaway client cannot grow it forever.
const CODE_TTL_MS = 60_000;
const MAX_CODES = 100_000;
const codes = new Map();

function sweep(now) {
  for (const [code, entry] of codes) {
    if (entry.expires > now && codes.size < MAX_CODES) break;
    codes.delete(code);
  }
}

// Handling time (ms, from the request event to the end of the response) of recent token requests.
const MAX_TIMES = 200_000;
const tokenTimes = new Map();

function send(res, status, body, type = 'application/json') {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function oauthError(res, status, error) {
  send(res, status, JSON.stringify({ error }));
}

function sameSecret(a, b) {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

function authorize(url, res) {
  const q = url.searchParams;
  const redirectUri = q.get('redirect_uri');
  if (q.get('client_id') !== clientId || !redirectUri || q.get('response_type') !== 'code')
    return oauthError(res, 400, 'invalid_request');
  if (q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge'))
    return oauthError(res, 400, 'invalid_request');
  const now = Date.now();
  sweep(now);
  const code = randomBytes(16).toString('base64url');
  const sub = q.get('login_hint') || `u-${randomBytes(6).toString('hex')}`;
  codes.set(code, {
    expires: now + CODE_TTL_MS,
    redirectUri,
    nonce: q.get('nonce') ?? undefined,
    challenge: q.get('code_challenge'),
    sub,
  });
  const back = new URL(redirectUri);
  back.searchParams.set('code', code);
  if (q.has('state')) back.searchParams.set('state', q.get('state'));
  back.searchParams.set('iss', issuer);
  res.writeHead(302, { location: back.toString(), 'content-length': 0 });
  res.end();
}

async function token(req, res) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 16_384) return oauthError(res, 413, 'invalid_request');
  }
  const form = new URLSearchParams(body);
  let id = form.get('client_id');
  let secret = form.get('client_secret');
  const auth = req.headers.authorization;
  if (auth?.startsWith('Basic ')) {
    const decoded = Buffer.from(auth.slice(6), 'base64').toString();
    const colon = decoded.indexOf(':');
    id = decodeURIComponent(decoded.slice(0, colon));
    secret = decodeURIComponent(decoded.slice(colon + 1));
  }
  if (id !== clientId || !secret || !sameSecret(secret, clientSecret)) return oauthError(res, 401, 'invalid_client');
  if (form.get('grant_type') !== 'authorization_code') return oauthError(res, 400, 'unsupported_grant_type');
  const code = form.get('code') ?? '';
  res.benchCode = code;
  const entry = codes.get(code);
  codes.delete(code);
  if (!entry || entry.expires < Date.now() || entry.redirectUri !== form.get('redirect_uri'))
    return oauthError(res, 400, 'invalid_grant');
  const verifier = form.get('code_verifier') ?? '';
  if (createHash('sha256').update(verifier).digest('base64url') !== entry.challenge)
    return oauthError(res, 400, 'invalid_grant');
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    sub: entry.sub,
    email: `${entry.sub}@stub.example`,
    email_verified: true,
    name: `User ${entry.sub}`,
    auth_time: now,
  };
  if (entry.nonce) claims.nonce = entry.nonce;
  const idToken = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'stub-1', typ: 'JWT' })
    .setIssuer(issuer)
    .setAudience(clientId)
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(privateKey);
  send(
    res,
    200,
    JSON.stringify({
      access_token: randomBytes(24).toString('base64url'),
      token_type: 'Bearer',
      expires_in: 300,
      scope: 'openid email profile',
      id_token: idToken,
    }),
  );
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', issuer);
  const route = `${req.method} ${url.pathname}`;
  if (route === 'GET /.well-known/openid-configuration') return send(res, 200, discovery);
  if (route === 'GET /jwks') return send(res, 200, jwks);
  if (route === 'GET /authorize') return authorize(url, res);
  if (route === 'POST /token') {
    const t0 = performance.now();
    res.once('finish', () => {
      if (!res.benchCode) return;
      if (tokenTimes.size >= MAX_TIMES) tokenTimes.clear();
      tokenTimes.set(res.benchCode, performance.now() - t0);
    });
    token(req, res).catch(() => {
      if (!res.headersSent) oauthError(res, 500, 'server_error');
      else res.destroy();
    });
    return;
  }
  if (route === 'POST /bench/token-times') {
    tokenTimesOf(req, res).catch(() => oauthError(res, 400, 'invalid_request'));
    return;
  }
  send(res, 404, JSON.stringify({ error: 'not_found' }));
});

/** POST /bench/token-times: a JSON list of codes → their token requests' handling times (or null). */
async function tokenTimesOf(req, res) {
  let body = '';
  for await (const chunk of req) body += chunk;
  const codes = JSON.parse(body);
  if (!Array.isArray(codes)) return oauthError(res, 400, 'invalid_request');
  send(
    res,
    200,
    JSON.stringify(
      codes.map((c) => {
        const ms = tokenTimes.get(String(c));
        tokenTimes.delete(String(c));
        return ms ?? null;
      }),
    ),
  );
}
server.keepAliveTimeout = 30_000;
server.listen(port, '127.0.0.1');
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
