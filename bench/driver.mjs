// The load driver: a separate process, steered by the runner over IPC. Each scenario runs a
// fixed number of virtual users, each looping over one flow (a request, or a multi-hop login
// with its own cookie jar) until the deadline; requests in flight at the deadline are finished
// and counted, so the runner's CPU window covers exactly the completed work.
// A paced run (`paced`) is open-loop instead: logins arrive at a constant rate from a pool of
// virtual browsers, and each is timed from its scheduled start (lib/pacing.mjs).
import { createHash, randomBytes } from 'node:crypto';
import { agent, basic, form, Jar, request } from './lib/http.mjs';
import { APP, MACHINE } from './lib/clients.mjs';
import { roundRobin } from './lib/balance.mjs';
import { Histogram, hopReadEvents } from './lib/stats.mjs';
import { arrivalCount, dueCount, hopLatencies, ownLatencies, scheduledAt } from './lib/pacing.mjs';
import { Redis } from 'ioredis';

const MAX_ITERATIONS = 10_000_000;
const agents = new Map();
function agentFor(url, size) {
  let a = agents.get(url.origin);
  if (!a) {
    a = agent(size);
    agents.set(url.origin, a);
  }
  // One agent per origin, shared by the scenarios: a larger pool (a paced run's) widens it.
  if (a.maxSockets < size) {
    a.maxSockets = size;
    a.maxFreeSockets = size;
  }
  return a;
}

class FlowError extends Error {}

function expect(cond, message) {
  if (!cond) throw new FlowError(message);
}

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** How many JWS compact strings (signatures) a token response carries. */
function signatures(json) {
  let n = 0;
  for (const key of ['access_token', 'id_token', 'refresh_token'])
    if (typeof json[key] === 'string' && /^[\w-]+\.[\w-]+\.[\w-]+$/.test(json[key])) n++;
  return n;
}

function jwtPayload(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

/** The endpoints of one server under test. */
function endpoints(target) {
  const base = target.url;
  return target.kind === 'broker'
    ? {
        authorize: new URL('/authorize', base),
        token: new URL('/token', base),
        introspect: new URL('/introspect', base),
      }
    : {
        authorize: new URL('/auth', base),
        token: new URL('/token', base),
        introspect: new URL('/token/introspection', base),
      };
}

let vuCounter = 0;

/**
 * Builds the scenario: `setup(vu)` prepares one virtual user's state; `flow(vu, timer)` runs one
 * iteration, timing each hop with timer(name, ms).
 */
function scenario(spec) {
  const { target, name } = spec;
  const ep = endpoints(target);
  const size = spec.concurrency + 4;
  const appAuth = basic(APP.client_id, APP.client_secret);
  const machineAuth = basic(MACHINE.client_id, MACHINE.client_secret);
  // Several instances behind one issuer: each request to the issuer goes to the next instance.
  const route = roundRobin(new URL(target.url).origin, target.instances ?? []);
  const post = (address, body, authz, jar) => {
    const url = route(address);
    return request('POST', url, {
      agent: agentFor(url, size),
      jar,
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: authz },
    });
  };
  const get = (address, jar) => {
    const url = route(address);
    return request('GET', url, { agent: agentFor(url, size), jar });
  };

  // With spec.redisUrls (one virtual user only), each hop also counts its Redis round trips: the
  // read events the server's Redis nodes (every master of a cluster) saw during the hop, summed,
  // less those of our own INFOs.
  const probes = (spec.redisUrls ?? []).map((url) => new Redis(url, { maxRetriesPerRequest: 1 }));
  const readsOf = async (probe) => Number(/total_reads_processed:(\d+)/.exec(await probe.info('stats'))[1]);
  const reads = () => Promise.all(probes.map(readsOf));
  const timed = async (timer, hop, fn) => {
    const r0 = probes.length ? await reads() : [];
    const t0 = performance.now();
    const out = await fn();
    const t1 = performance.now();
    timer(hop, t1 - t0);
    // A paced run's per-login timer keeps each hop's start and end (lib/pacing.mjs hopLatencies).
    timer.events?.push([hop, t0, t1]);
    if (probes.length) timer.roundTrips?.(hop, hopReadEvents(r0, await reads()));
    return out;
  };

  /** Authorize as the app in `jar`; returns the app callback URL with the code, timing each hop. */
  async function authorize(jar, timer, { challenge }, nonce, user) {
    const state = randomBytes(12).toString('base64url');
    const url = new URL(ep.authorize);
    const q = {
      client_id: APP.client_id,
      redirect_uri: APP.redirect_uri,
      response_type: 'code',
      scope: 'openid profile email',
      state,
      nonce,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      login_hint: user,
    };
    if (target.kind === 'broker') q.provider = 'stub';
    url.search = new URLSearchParams(q).toString();
    let res = await timed(timer, 'authorize', () => get(url, jar));
    let next = res.headers.location && new URL(res.headers.location, url);
    expect(
      (res.status === 302 || res.status === 303) && next,
      `authorize answered ${res.status}: ${res.body.slice(0, 160)}`,
    );
    // Bounded: at most four more hops (upstream, callback / interaction, resume) to reach the app.
    for (let hop = 0; hop < 4 && next.origin + next.pathname !== APP.redirect_uri; hop++) {
      const here = next;
      const label =
        target.kind === 'broker'
          ? here.pathname.startsWith('/callback/')
            ? 'callback'
            : 'upstream'
          : here.pathname.startsWith('/interaction/')
            ? 'interaction'
            : 'resume';
      res = await timed(timer, label, () => get(here, jar));
      expect(res.status === 302 || res.status === 303, `${label} answered ${res.status}: ${res.body.slice(0, 160)}`);
      next = new URL(res.headers.location, here);
      // The code the upstream issued: the stub reports its own time for the token request with it.
      if (label === 'upstream') timer.upstreamCode = next.searchParams.get('code') ?? undefined;
    }
    expect(next.origin + next.pathname === APP.redirect_uri, `never reached the app: ${next}`);
    expect(next.searchParams.get('state') === state, 'state not echoed');
    const code = next.searchParams.get('code');
    expect(code, `no code: ${next.search.slice(0, 200)}`);
    return code;
  }

  /** A complete code flow in `jar` (cold when the jar is empty, SSO when it holds a session). */
  async function login(_vu, jar, timer, user) {
    const p = pkce();
    const nonce = randomBytes(12).toString('base64url');
    const code = await authorize(jar, timer, p, nonce, user);
    const res = await timed(timer, 'token', () =>
      post(
        ep.token,
        form({ grant_type: 'authorization_code', code, redirect_uri: APP.redirect_uri, code_verifier: p.verifier }),
        appAuth,
      ),
    );
    expect(res.status === 200, `token answered ${res.status}: ${res.body.slice(0, 160)}`);
    const json = JSON.parse(res.body);
    expect(json.access_token && json.id_token, 'token response without access_token or id_token');
    expect(jwtPayload(json.id_token).nonce === nonce, 'ID token nonce mismatch');
    return json;
  }

  // A small pool of users per virtual user: after the warm-up most logins are returning users.
  const userFor = (vu, i) => `bench-${vu.id}-${typeof i === 'number' ? i % 4 : i}`;

  const close = () => {
    for (const probe of probes) probe.disconnect();
  };
  return { ...pick(), close };

  function pick() {
    switch (name) {
      case 'client_credentials':
        return {
          setup: async () => {},
          flow: async (_vu, timer) => {
            // Both servers: a JWT access token for a named resource server (RFC 8707, RFC 9068).
            const body = {
              grant_type: 'client_credentials',
              scope: 'api:read',
              resource: `https://api.example/${spec.alg.toLowerCase()}`,
            };
            const res = await timed(timer, 'token', () => post(ep.token, form(body), machineAuth));
            expect(res.status === 200, `token answered ${res.status}: ${res.body.slice(0, 160)}`);
            const json = JSON.parse(res.body);
            const alg = JSON.parse(Buffer.from(json.access_token.split('.')[0], 'base64url').toString()).alg;
            expect(alg === spec.alg, `access token signed with ${alg}, expected ${spec.alg}`);
            return signatures(json);
          },
        };
      case 'refresh':
        return {
          setup: async (vu) => {
            const tokens = await login(vu, new Jar(), () => {}, userFor(vu, 'r'));
            expect(tokens.refresh_token, 'no refresh token from the login');
            vu.rt = tokens.refresh_token;
          },
          flow: async (vu, timer) => {
            const res = await timed(timer, 'token', () =>
              post(ep.token, form({ grant_type: 'refresh_token', refresh_token: vu.rt }), appAuth),
            );
            expect(res.status === 200, `refresh answered ${res.status}: ${res.body.slice(0, 160)}`);
            const json = JSON.parse(res.body);
            expect(json.refresh_token && json.refresh_token !== vu.rt, 'refresh token not rotated');
            vu.rt = json.refresh_token;
            return signatures(json);
          },
        };
      case 'introspection':
        return {
          setup: async (vu) => {
            vu.at = (await login(vu, new Jar(), () => {}, userFor(vu, 'i'))).access_token;
          },
          flow: async (vu, timer) => {
            const res = await timed(timer, 'introspect', () => post(ep.introspect, form({ token: vu.at }), appAuth));
            expect(res.status === 200, `introspect answered ${res.status}: ${res.body.slice(0, 160)}`);
            expect(JSON.parse(res.body).active === true, 'token not active');
            return 0;
          },
        };
      case 'cold_login':
        return {
          setup: async (vu) => {
            vu.i = 0;
          },
          flow: async (vu, timer) => {
            const json = await login(vu, new Jar(), timer, userFor(vu, vu.i++));
            return signatures(json);
          },
        };
      case 'sso_login':
        return {
          setup: async (vu) => {
            vu.jar = new Jar();
            await login(vu, vu.jar, () => {}, userFor(vu, 's'));
          },
          flow: async (vu, timer) => {
            const json = await login(vu, vu.jar, timer, userFor(vu, 's'));
            return signatures(json);
          },
        };
      default:
        throw new Error(`unknown scenario ${name}`);
    }
  }
}

const prepared = new Map();

async function setup(spec) {
  if (spec.redisUrls && spec.concurrency !== 1) throw new Error('per-hop round trips need a single virtual user');
  const built = scenario(spec);
  const vus = [];
  for (let i = 0; i < spec.concurrency; i++) vus.push({ id: `${process.pid}.${++vuCounter}` });
  // Set up a few at a time: the servers are not being measured yet, but the machine is shared.
  for (let i = 0; i < vus.length; i += 4) await Promise.all(vus.slice(i, i + 4).map((vu) => built.setup(vu)));
  prepared.set(spec.key, { spec, built, vus });
}

/** Runs until `durationMs` passes or `count` flows started (whichever is given), then drains. */
async function run({ key, durationMs, count }) {
  const entry = prepared.get(key);
  if (!entry) throw new Error(`scenario ${key} was not set up`);
  const { built, vus } = entry;
  const hops = new Map();
  const total = new Histogram();
  let completed = 0;
  let started = 0;
  let errors = 0;
  let sigs = 0;
  const samples = [];
  const timer = (hop, ms) => {
    let h = hops.get(hop);
    if (!h) {
      h = new Histogram();
      hops.set(hop, h);
    }
    h.record(ms);
  };
  const hopTrips = new Map();
  timer.roundTrips = (hop, n) => hopTrips.set(hop, (hopTrips.get(hop) ?? 0) + n);
  const t0 = performance.now();
  const deadline = durationMs ? t0 + durationMs : Infinity;
  const limit = Math.min(count ?? MAX_ITERATIONS, MAX_ITERATIONS);
  await Promise.all(
    vus.map(async (vu) => {
      while (performance.now() < deadline && started < limit) {
        started++;
        const f0 = performance.now();
        try {
          // Not `sigs += await ...`: that reads sigs before the await and loses concurrent updates.
          const n = await built.flow(vu, timer);
          sigs += n;
          total.record(performance.now() - f0);
          completed++;
        } catch (err) {
          errors++;
          if (samples.length < 3) samples.push(err.message);
          // A failing server must not spin the loop: back off a little.
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    }),
  );
  const elapsedMs = performance.now() - t0;
  return {
    completed,
    errors,
    errorSamples: samples,
    elapsedMs,
    rate: (completed / elapsedMs) * 1000,
    signaturesPerFlow: completed ? sigs / completed : 0,
    latency: total.toJSON(),
    hops: Object.fromEntries([...hops].map(([k, h]) => [k, h.toJSON()])),
    roundTripsPerHop:
      completed && hopTrips.size ? Object.fromEntries([...hopTrips].map(([k, n]) => [k, n / completed])) : undefined,
  };
}

/** The upstream's own handling time of the token request of each code (the stub keeps them). */
async function upstreamTimes(upstreamUrl, codes) {
  if (!upstreamUrl || !codes.length) return [];
  const res = await fetch(new URL('/bench/token-times', upstreamUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(codes),
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`stub upstream answered ${res.status} for its token times`);
  return res.json();
}

/**
 * Open loop: `rate` logins per second for `durationMs`, each started at its scheduled time on a
 * free virtual browser of the pool (waiting for one when all are busy), whatever the server's
 * answers do; then the ones in flight finish. Latencies run from the scheduled start; the
 * broker's own time per hop takes off the upstream's time for its token request (`upstreamUrl`).
 * Histograms go back sparse, so the runner can merge repetitions.
 */
async function paced({ key, rate, durationMs, upstreamUrl }) {
  const entry = prepared.get(key);
  if (!entry) throw new Error(`scenario ${key} was not set up`);
  const { built, vus } = entry;
  const free = [...vus];
  const waiting = [];
  const acquire = () => (free.length ? free.pop() : new Promise((resolve) => waiting.push(resolve)));
  const release = (vu) => {
    const next = waiting.shift();
    if (next) next(vu);
    else free.push(vu);
  };
  const hist = (map, name) => {
    let h = map.get(name);
    if (!h) {
      h = new Histogram();
      map.set(name, h);
    }
    return h;
  };
  const hops = new Map();
  const total = new Histogram();
  const lag = new Histogram();
  const logins = []; // per login with an upstream leg: its code and its hops, for the own times
  let completed = 0;
  let errors = 0;
  let poolWaits = 0;
  const samples = [];
  const count = arrivalCount(rate, durationMs);
  const flights = [];
  const launch = async (scheduled) => {
    lag.record(performance.now() - scheduled);
    if (!free.length) poolWaits++;
    const vu = await acquire();
    const timer = () => {};
    timer.events = [];
    try {
      await built.flow(vu, timer);
      const { hops: ms, total: all } = hopLatencies(scheduled, timer.events);
      for (const [name, v] of Object.entries(ms)) hist(hops, name).record(v);
      total.record(all);
      completed++;
      logins.push({ code: timer.upstreamCode, hops: ms });
    } catch (err) {
      errors++;
      if (samples.length < 3) samples.push(err.message);
    } finally {
      release(vu);
    }
  };
  const t0 = performance.now() + 5;
  let next = 0;
  while (next < count) {
    const due = dueCount(performance.now() - t0, rate, count);
    for (; next < due; next++) flights.push(launch(t0 + scheduledAt(next, rate)));
    if (next < count)
      await new Promise((r) => setTimeout(r, Math.max(0, t0 + scheduledAt(next, rate) - performance.now())));
  }
  await Promise.all(flights);
  const elapsedMs = performance.now() - t0;
  // Logins with an upstream leg (cold brokered logins): the stub's own time for each one's token
  // request comes off its callback; a login whose code the stub no longer knew is left out.
  const codes = upstreamUrl ? logins.filter((l) => l.code).map((l) => l.code) : [];
  const times = new Map((await upstreamTimes(upstreamUrl, codes)).map((ms, i) => [codes[i], ms]));
  const own = new Map();
  const upstreamMs = new Histogram();
  for (const login of logins) {
    const up = login.code && upstreamUrl ? times.get(login.code) : undefined;
    if (login.code && upstreamUrl && typeof up !== 'number') continue;
    if (up !== undefined) upstreamMs.record(up);
    for (const [name, v] of Object.entries(ownLatencies(login.hops, up !== undefined ? { callback: up } : {})))
      hist(own, name).record(v);
  }
  const sparse = (map) => Object.fromEntries([...map].map(([k, h]) => [k, h.toSparse()]));
  return {
    rate,
    scheduled: count,
    completed,
    errors,
    errorSamples: samples,
    elapsedMs,
    achievedRate: (completed / elapsedMs) * 1000,
    poolSize: vus.length,
    poolWaits,
    startLag: lag.toSparse(),
    latency: total.toSparse(),
    hops: sparse(hops),
    own: sparse(own),
    upstreamTokenMs: upstreamMs.toSparse(),
  };
}

process.on('message', async (msg) => {
  try {
    if (msg.cmd === 'setup') {
      await setup(msg.spec);
      process.send({ id: msg.id, ok: true });
    } else if (msg.cmd === 'run') {
      process.send({ id: msg.id, ok: true, result: await run(msg) });
    } else if (msg.cmd === 'paced') {
      process.send({ id: msg.id, ok: true, result: await paced(msg) });
    } else if (msg.cmd === 'drop') {
      prepared.get(msg.key)?.built.close?.();
      prepared.delete(msg.key);
      process.send({ id: msg.id, ok: true });
    } else if (msg.cmd === 'exit') {
      process.exit(0);
    }
  } catch (err) {
    process.send({ id: msg.id, ok: false, error: err.stack ?? String(err) });
  }
});
process.on('disconnect', () => process.exit(0));
