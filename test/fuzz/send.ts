import { Agent, request } from 'node:http';

/** One request as the fuzzer makes it: everything raw, nothing normalised by a client library. */
export interface RawRequest {
  method: string;
  /** Path and query, already escaped as far as HTTP/1.1 needs (see `escapePath`). */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  ms: number;
}

const MAX_BODY = 2 * 1024 * 1024;

/**
 * Node's client refuses path characters outside U+0021-U+00FF; those are percent-encoded (as
 * UTF-8), everything else goes as it is, Latin-1 bytes included (a path that is not UTF-8).
 */
export function escapePath(path: string): string {
  return path.replace(/[^\u0021-\u00ff]/gu, (c) => encodeURIComponent(c).replace(/%25/g, '%'));
}

/** Header values may hold tab, printable ASCII and Latin-1 bytes; anything else becomes '?'. */
export function headerValue(value: string): string {
  return value.replace(/[^\t\u0020-\u007e\u0080-\u00ff]/g, '?');
}

export const agent = new Agent({ keepAlive: true, maxSockets: 4 });

/** Sends the request; rejects when no full answer arrives within `timeoutMs` (a hang). */
export function send(base: URL, req: RawRequest, timeoutMs: number): Promise<RawResponse> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) headers[name] = headerValue(value);
    if (req.body) headers['content-length'] = String(req.body.length);
    const outgoing = request(
      { host: base.hostname, port: base.port, method: req.method, path: req.path, headers, agent, setHost: true },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_BODY) chunks.push(chunk);
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('latin1'),
            ms: performance.now() - started,
          });
        });
        res.on('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
      },
    );
    const timer = setTimeout(() => {
      outgoing.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms: ${req.method} ${req.path.slice(0, 200)}`));
    }, timeoutMs);
    outgoing.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    outgoing.end(req.body);
  });
}
