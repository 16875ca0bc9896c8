import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { createApp, type AppOptions, type BrokerApp } from '../../src/app.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/http/log.js';
import { MemoryStore, type Store } from '../../src/store/index.js';

export interface RunningApp {
  url: string;
  config: Config;
  store: Store;
  /** Every log line the app wrote, parsed. */
  logs: Record<string, unknown>[];
  /** The app itself (its metrics registry, for one). */
  app: BrokerApp;
  close(): Promise<void>;
}

/** Captures pino output in memory, so tests can assert what was (and was not) logged. */
export function logCapture(): { stream: Writable; lines: Record<string, unknown>[]; text: () => string } {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line));
      }
      done();
    },
  });
  return { stream, lines, text: () => raw.join('\n') };
}

/**
 * Starts the real app on an ephemeral loopback port. The issuer is derived from the port, unless
 * the config names one; `raw` is validated by the real config schema.
 */
export async function startApp(
  raw: Record<string, unknown> | ((issuer: string) => Record<string, unknown>) = {},
  options: { store?: Store; upstreamFetch?: AppOptions['upstreamFetch']; skipReady?: boolean } = {},
): Promise<RunningApp> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const config = configSchema.parse({
    issuer,
    log: { level: 'debug' },
    ...(typeof raw === 'function' ? raw(issuer) : raw),
  });
  const store = options.store ?? new MemoryStore({ prefix: 'test:' });
  const capture = logCapture();
  const app = createApp(config, store, {
    log: createLogger('debug', capture.stream),
    upstreamFetch: options.upstreamFetch,
  });
  if (!options.skipReady) await app.ready();
  server.on('request', app.callback());
  return {
    url: `http://127.0.0.1:${port}`,
    config,
    store,
    logs: capture.lines,
    app,
    close: async () => {
      app.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
    },
  };
}
