import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A load balancer without sticky sessions, on a loopback port: each request goes to the next
 * backend in turn. A backend that refuses the connection (stopped, killed) is skipped, as a
 * balancer with passive health checks would; one that fails mid-request gets the client a 502.
 * `served` counts what each backend answered.
 */
export interface RoundRobin {
  url: string;
  /** The backends' base URLs; replace an entry to point at a restarted instance. */
  backends: string[];
  served: number[];
  /** Requests no backend could take (every one refused the connection): answered 502. */
  refused: number;
  close(): Promise<void>;
}

/**
 * `healthCheckMs`: polls each backend's /readyz this often and sends nothing to one that last
 * answered otherwise than 200 (as a balancer's active health check does).
 */
export async function startRoundRobin(
  backends: string[],
  options: { healthCheckMs?: number } = {},
): Promise<RoundRobin> {
  let next = 0;
  const balancer: RoundRobin = {
    url: '',
    backends: [...backends],
    served: backends.map(() => 0),
    refused: 0,
    close: async () => {},
  };
  const unhealthy = new Set<string>();
  let checking = true;
  const check = async () => {
    while (checking && options.healthCheckMs) {
      await Promise.all(
        balancer.backends.map(async (base) => {
          const status = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(1000) }).then(
            (r) => r.status,
            () => 0,
          );
          if (status === 200) unhealthy.delete(base);
          else unhealthy.add(base);
        }),
      );
      await new Promise((r) => setTimeout(r, options.healthCheckMs));
    }
  };
  void check();
  const server: Server = createServer(async (req, res) => {
    const body = await read(req);
    for (let tried = 0; tried < balancer.backends.length; tried++) {
      const index = next++ % balancer.backends.length;
      if (unhealthy.has(balancer.backends[index]!) && tried < balancer.backends.length - 1) continue;
      if (await forward(balancer.backends[index]!, req, body, res)) {
        balancer.served[index]!++;
        return;
      }
    }
    balancer.refused++;
    res.writeHead(502, { 'content-type': 'text/plain' }).end('no backend took the connection');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  balancer.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  balancer.close = async () => {
    checking = false;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return balancer;
}

async function read(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** False when the backend refused the connection (nothing was sent to the client). */
function forward(base: string, req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const target = new URL(req.url ?? '/', base);
    const upstream = request(
      target,
      { method: req.method, headers: { ...req.headers, connection: 'close' }, agent: false },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('end', () => resolve(true));
        answer.on('error', () => {
          res.destroy();
          resolve(true);
        });
      },
    );
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      // Refused: nothing reached the backend, another may take it. Anything else (a backend that
      // died mid-request) is the client's to retry, as with a real balancer: 502.
      if (!res.headersSent && err.code === 'ECONNREFUSED') return resolve(false);
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`backend failed: ${err.code}`);
      else res.destroy();
      resolve(true);
    });
    upstream.end(body);
  });
}
