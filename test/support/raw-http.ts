import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** How the exchange ended: every expected answer read, the server closed (FIN or RST), or nothing more came. */
export type RawEnding = 'answered' | 'closed' | 'reset' | 'timeout';

/** A request head, with Content-Length or chunked framing for `body`. */
export function rawRequest(
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string; chunked?: boolean } = {},
): Buffer {
  const headers: Record<string, string> = { host: '127.0.0.1', ...options.headers };
  const body = options.body ?? '';
  let framed = Buffer.from(body);
  if (options.chunked) {
    headers['transfer-encoding'] = 'chunked';
    const parts: Buffer[] = [];
    for (let at = 0; at < body.length; at += 16 * 1024) {
      const piece = body.slice(at, at + 16 * 1024);
      parts.push(Buffer.from(`${piece.length.toString(16)}\r\n${piece}\r\n`));
    }
    parts.push(Buffer.from('0\r\n\r\n'));
    framed = Buffer.concat(parts);
  } else if (body || method === 'POST') {
    headers['content-length'] ??= String(framed.length);
  }
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`);
  const head = `${method} ${path} HTTP/1.1\r\n${lines.join('')}\r\n`;
  return Buffer.concat([Buffer.from(head), framed]);
}

/** Parses as many complete responses as `data` holds (Content-Length or chunked bodies). */
export function parseResponses(data: Buffer): RawResponse[] {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const headEnd = data.indexOf('\r\n\r\n', at);
    if (headEnd < 0) return responses;
    const [statusLine, ...lines] = data.subarray(at, headEnd).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let cursor = headEnd + 4;
    let body: Buffer;
    if (headers['transfer-encoding'] === 'chunked') {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = data.indexOf('\r\n', cursor);
        if (lineEnd < 0) return responses;
        const size = parseInt(data.subarray(cursor, lineEnd).toString('latin1'), 16);
        if (data.length < lineEnd + 2 + size + 2) return responses;
        parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
        cursor = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(parts);
    } else {
      const length = Number(headers['content-length'] ?? 0);
      if (data.length < cursor + length) return responses;
      body = data.subarray(cursor, cursor + length);
      cursor += length;
    }
    // 1xx answers (100 Continue) are interim: not counted.
    if (status >= 200) responses.push({ status, headers, body: body.toString('utf8') });
    at = cursor;
  }
}

/**
 * Sends raw bytes on one loopback connection and reads until `expected` responses arrived,
 * the server closed the connection, or `timeoutMs` passed with neither (a hang).
 */
export function rawExchange(
  port: number,
  writes: Buffer[],
  options: { expected: number; timeoutMs?: number },
): Promise<{ responses: RawResponse[]; ending: RawEnding }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let settled = false;
    const finish = (ending: RawEnding) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ responses: parseResponses(Buffer.concat(received)), ending });
    };
    const timer = setTimeout(() => finish('timeout'), options.timeoutMs ?? 3000);
    socket.on('data', (chunk) => {
      received.push(chunk);
      if (parseResponses(Buffer.concat(received)).length >= options.expected) finish('answered');
    });
    socket.on('end', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.on('error', (err: NodeJS.ErrnoException) => finish(err.code === 'EPIPE' ? 'closed' : 'reset'));
    socket.on('connect', () => {
      for (const bytes of writes) socket.write(bytes);
    });
  });
}
