// A lean HTTP/1.1 client over node:http with keep-alive, and a browser-like cookie jar.
// Cheaper per request than fetch, so the driver takes less of the machine from the servers.
import http from 'node:http';

export function agent(maxSockets) {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' });
}

/** Cookies by name (loopback http: path, domain and Secure are ignored, as in the tests' user agent). */
export class Jar {
  constructor() {
    this.cookies = new Map();
  }

  header() {
    if (this.cookies.size === 0) return undefined;
    let out = '';
    for (const [k, v] of this.cookies) out += `${(out ? '; ' : '') + k}=${v}`;
    return out;
  }

  store(setCookie) {
    if (!setCookie) return;
    for (const line of setCookie) {
      const semi = line.indexOf(';');
      const pair = semi < 0 ? line : line.slice(0, semi);
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

/**
 * One request; resolves { status, headers, body } with the body as text. `url` is a URL.
 * Rejects after `timeoutMs` (so a stuck server cannot hang the driver).
 */
export function request(method, url, { agent: a, headers = {}, body, jar, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    const cookie = jar?.header();
    if (cookie) h.cookie = cookie;
    if (body !== undefined) h['content-length'] = Buffer.byteLength(body);
    const req = http.request(
      { method, host: url.hostname, port: url.port, path: url.pathname + url.search, headers: h, agent: a },
      (res) => {
        jar?.store(res.headers['set-cookie']);
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${url.pathname}`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export function form(values) {
  return new URLSearchParams(values).toString();
}

export function basic(id, secret) {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}
