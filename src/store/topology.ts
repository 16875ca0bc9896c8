import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';

export interface RedisNode {
  host: string;
  port: number;
}

/** One Redis behind Sentinel: the sentinels tell which node is the master now. */
export interface SentinelTarget {
  sentinels: RedisNode[];
  /** The master's name in the sentinels' configuration. */
  name: string;
  password?: string | undefined;
  sentinel_password?: string | undefined;
  db?: number | undefined;
  tls?: boolean | undefined;
}

/** A Redis Cluster: a few seed nodes (the client learns the rest). */
export interface ClusterTarget {
  cluster: (RedisNode | string)[];
  password?: string | undefined;
  tls?: boolean | undefined;
}

/** Where the store lives: one Redis (a redis:// or rediss:// URL), Sentinel or Cluster. */
export type RedisTarget = string | SentinelTarget | ClusterTarget;

export type RedisClient = Redis | Cluster;

export interface ConnectOptions {
  prefix: string;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
}

export const isCluster = (target: RedisTarget): target is ClusterTarget =>
  typeof target === 'object' && 'cluster' in target;

/** Reconnect with a short backoff (at most every 500 ms): Redis back means broker back within 2 s. */
const backoff = (times: number) => Math.min(50 * 2 ** Math.min(times, 4), 500);

/**
 * The ioredis client for a target. Commands fail fast while Redis is down (no offline queue, one
 * retry), so a request gets a 503 at once instead of hanging; the client keeps reconnecting.
 */
export function connectRedis(target: RedisTarget, options: ConnectOptions): RedisClient {
  const common: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs,
    connectTimeout: options.connectTimeoutMs,
    retryStrategy: backoff,
    lazyConnect: false,
  };
  // A demoted master (Sentinel failover) refuses writes: reconnect, and so ask the sentinels again.
  const reconnectOnError = (err: Error) => (err.message.startsWith('READONLY') ? 1 : false);
  if (typeof target === 'string') return new Redis(target, { ...common, keyPrefix: options.prefix, reconnectOnError });
  if (isCluster(target)) {
    return new Cluster(target.cluster.map(clusterNode), {
      keyPrefix: options.prefix,
      enableOfflineQueue: false,
      clusterRetryStrategy: backoff,
      // A failed-over slot moves within the cluster's node timeout: retry briefly, then answer 503.
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      maxRedirections: 8,
      slotsRefreshTimeout: Math.min(options.commandTimeoutMs, 2000),
      redisOptions: {
        ...common,
        password: target.password,
        tls: target.tls ? {} : undefined,
      },
    });
  }
  return new Redis({
    ...common,
    keyPrefix: options.prefix,
    sentinels: target.sentinels,
    name: target.name,
    password: target.password,
    sentinelPassword: target.sentinel_password,
    db: target.db ?? 0,
    tls: target.tls ? {} : undefined,
    enableTLSForSentinelMode: target.tls ?? false,
    sentinelRetryStrategy: backoff,
    reconnectOnError,
    // Follow a failover as soon as the sentinels announce it, not only when the old master fails.
    failoverDetector: true,
  });
}

function clusterNode(node: RedisNode | string): ClusterNode {
  if (typeof node !== 'string') return { host: node.host, port: node.port };
  const url = new URL(node);
  return { host: url.hostname, port: Number(url.port || 6379) };
}

/** How a target reads in a log line: no credentials. */
export function describeTarget(target: RedisTarget): string {
  if (typeof target === 'string') {
    const url = new URL(target);
    return `Redis at ${url.protocol}//${url.host}${url.pathname}`;
  }
  const address = (n: RedisNode | string) => (typeof n === 'string' ? new URL(n).host : `${n.host}:${n.port}`);
  if (isCluster(target)) return `Redis Cluster via ${target.cluster.map(address).join(', ')}`;
  return `Redis master "${target.name}" via Sentinel ${target.sentinels.map(address).join(', ')}`;
}
