#!/usr/bin/env node
import { createServer, type Server } from 'node:http';
import { parseArgs } from 'node:util';
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { createLogger, type Logger } from './http/log.js';
import { metricsServer } from './http/metrics-server.js';
import { describeStore, openStore, type Store } from './store/index.js';

const USAGE = `Usage: login-broker [--config FILE]
       login-broker users add|set-password|remove USERNAME [--config FILE]   (users --help)
       login-broker users list|show|disable|enable|unlink|sessions ...          (users --help)
       login-broker clients add|list|show|update|rotate-secret|remove ...      (clients --help)
       login-broker providers list|check [--config FILE]                     (providers --help)

Starts the login broker with the configuration in FILE (YAML).
The file can also be named by the BROKER_CONFIG environment variable.
Every configuration key is documented in config/broker.example.yaml.

Options:
  -c, --config FILE   configuration file to load
  -h, --help          print this help and exit

Exit status: 0 after a clean shutdown, 2 for a usage or configuration error, 1 otherwise.
`;

const SHUTDOWN_GRACE_MS = 10_000;

function fail(message: string, status: number): never {
  process.stderr.write(`login-broker: ${message}\n`);
  process.exit(status);
}

function parseCommandLine(argv: string[]): { configFile: string } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    fail(`${(err as Error).message}\n\n${USAGE}`, 2);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const configFile = values.config ?? process.env.BROKER_CONFIG;
  if (!configFile) fail(`no configuration file: pass --config FILE or set BROKER_CONFIG\n\n${USAGE}`, 2);
  return { configFile };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function shutdownOnSignals(
  server: Server,
  store: Store,
  log: Logger,
  stopApp: () => void,
  drainMs: number,
  metrics?: Server,
): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Draining first: /readyz answers 503 while requests are still served, so a balancer stops
    // sending here before the listener closes (listen.drain_ms).
    stopApp();
    log.info({ signal, drain_ms: drainMs }, 'draining: /readyz answers 503');
    setTimeout(() => close(), drainMs);
  };
  const close = () => {
    log.info('shutting down: no new connections, finishing requests in flight');
    // The metrics listener stays up while draining (the drain shows in them), then goes.
    metrics?.close();
    metrics?.closeAllConnections();
    const force = setTimeout(() => {
      log.warn('requests still in flight after 10 s: closing them');
      server.closeAllConnections();
      void store.close().finally(() => process.exit(1));
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    server.close(() => {
      void store.close().then(
        () => {
          log.info('stopped');
          process.exit(0);
        },
        () => process.exit(1),
      );
    });
    // Connections that finish their last request become idle later; close them as they do.
    server.closeIdleConnections();
    setInterval(() => server.closeIdleConnections(), 100).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function main(): Promise<void> {
  if (process.argv[2] === 'users') {
    const { usersCommand } = await import('./cli/users.js');
    process.exit(await usersCommand(process.argv.slice(3)));
  }
  if (process.argv[2] === 'clients') {
    const { clientsCommand } = await import('./cli/clients.js');
    process.exit(await clientsCommand(process.argv.slice(3)));
  }
  if (process.argv[2] === 'providers') {
    const { providersCommand } = await import('./cli/providers.js');
    process.exit(await providersCommand(process.argv.slice(3)));
  }
  const { configFile } = parseCommandLine(process.argv.slice(2));
  let config: Config;
  try {
    config = loadConfig(configFile);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, 2);
    throw err;
  }
  const log = createLogger(config.log.level);
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled promise rejection'));

  const store = openStore(config.store, log.child({ component: 'store' }));
  let app: ReturnType<typeof createApp>;
  try {
    app = createApp(config, store, { log, configFile });
  } catch (err) {
    await store.close();
    // A bad provider file is a configuration error too: exit 2, no stack.
    if (err instanceof ConfigError) fail(err.message, 2);
    throw err;
  }
  const server = createServer(app.callback());
  try {
    await listen(server, config.listen.host, config.listen.port);
  } catch (err) {
    await store.close();
    fail(`cannot listen on ${config.listen.host}:${config.listen.port}: ${(err as Error).message}`, 1);
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.listen.port;
  log.info(
    { issuer: config.issuer, host: config.listen.host, port, store: store.kind },
    `login-broker listening on http://${config.listen.host}:${port} (issuer ${config.issuer}) with ` +
      `${describeStore(config.store)}`,
  );
  let metrics: Server | undefined;
  if (app.metrics && config.metrics) {
    const { host, port: metricsPort } = config.metrics.listen;
    metrics = metricsServer(app.metrics.registry);
    try {
      await listen(metrics, host, metricsPort);
    } catch (err) {
      await store.close();
      fail(`cannot listen for metrics on ${host}:${metricsPort}: ${(err as Error).message}`, 1);
    }
    const bound = metrics.address();
    const shown = typeof bound === 'object' && bound ? bound.port : metricsPort;
    log.info({ host, port: shown }, `metrics on http://${host}:${shown}/metrics`);
  }
  app
    .ready()
    .catch((err: Error) =>
      log.warn(
        { err: { message: err.message } },
        'keys not loaded yet (store unavailable?); retrying on the next request',
      ),
    );
  shutdownOnSignals(server, store, log, () => app.stop(), config.listen.drain_ms, metrics);
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err), 1));
