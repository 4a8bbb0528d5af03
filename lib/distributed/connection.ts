// lib/distributed/connection.ts — the Redis side of distributed scoring and sweeps (BullMQ).
//
// A queue is named by a URL, redis://[user:password@]HOST[:PORT][/DB] (rediss:// for TLS). Every
// BullMQ object here gets plain connection options (BullMQ makes its own ioredis clients) with
// `maxRetriesPerRequest: null` and a retry strategy that reconnects forever (every ≤ 2 s), so a
// worker or a waiting client rides out a Redis restart. Before anything is enqueued, checkRedis()
// makes one connection attempt without retries: a Redis that is not there is one clear error
// (RedisUnavailableError) instead of a client that waits forever.
//
// Queue names (one set per prefix, BullMQ's default prefix "bull"): merclip-score (a job per
// shard), merclip-train (a job per training run), merclip-sweep (a sweep's parent job).
import { Redis, type RedisOptions } from 'ioredis';

import { describeUrl, RedisUnavailableError } from './common.js';

export { describeUrl, QUEUES, RedisUnavailableError } from './common.js';

/** Connection options from a redis:// URL (throws a RangeError naming the URL when it is not one). */
export function redisOptions(url: string): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new RangeError(`--queue must be a Redis URL such as redis://127.0.0.1:6379, received "${url}"`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new RangeError(`--queue must be a redis:// or rediss:// URL, received "${url}"`);
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new RangeError(`${url}: the database must be a number (redis://HOST:PORT/DB)`);
  const o: RedisOptions = { host: u.hostname || '127.0.0.1', port: u.port ? Number(u.port) : 6379 };
  if (u.username) o.username = decodeURIComponent(u.username);
  if (u.password) o.password = decodeURIComponent(u.password);
  if (db !== '') o.db = Number(db);
  if (u.protocol === 'rediss:') o.tls = {};
  return o;
}

/** BullMQ connection options: reconnect forever, never fail a command because Redis is away. */
export function bullConnection(url: string): RedisOptions {
  return {
    ...redisOptions(url),
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times: number) => Math.min(100 * times, 2000),
  };
}

/** One connection attempt, no retries: resolves when Redis answers PING, else RedisUnavailableError. */
export async function checkRedis(url: string, timeoutMs = 3000): Promise<void> {
  const client = new Redis({ ...redisOptions(url), lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  let last: Error | null = null;
  client.on('error', (e: Error) => { last = e; });
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    const e = last ?? (err as Error);
    const why = (e as NodeJS.ErrnoException).code ?? e.message;
    throw new RedisUnavailableError(`cannot reach Redis at ${describeUrl(url)} (${why}): start redis-server there or give --queue redis://HOST:PORT`);
  } finally {
    client.disconnect();
  }
}
