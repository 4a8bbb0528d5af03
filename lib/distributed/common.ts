// lib/distributed/common.ts — what the distributed commands share without loading BullMQ or
// ioredis (the CLI's other commands and `import 'merclip'` stay fast; those load on first use):
// the queue names, the errors, URL display.

/** Queue names (under BullMQ's key prefix, default "bull"). */
export const QUEUES = { score: 'merclip-score', train: 'merclip-train', sweep: 'merclip-sweep' } as const;

export class RedisUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisUnavailableError';
  }
}

export interface FailedShard {
  data: string;
  start: number;
  end: number;
  jobId: string;
  error: string;
}

export class ShardsFailedError extends Error {
  constructor(readonly failed: FailedShard[], readonly total: number, parts: string) {
    super(`${failed.length} of ${total} shards failed (the others completed; their results are in ${parts}/; fix the cause and run the same command again to redo only the failed shards):\n` +
      failed.map((f) => `${f.data} samples ${f.start}–${f.end - 1}: ${f.error}`).join('\n'));
    this.name = 'ShardsFailedError';
  }
}

/** The URL without its password (for messages). */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}
