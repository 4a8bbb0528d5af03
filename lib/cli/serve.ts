// lib/cli/serve.ts — `merclip serve`: one model over HTTP (KServe v2 / Open Inference Protocol,
// lib/serve/server.ts) until SIGTERM or SIGINT, then a graceful stop: in-flight requests finish,
// the queue drains, the action returns (exit code 0).
import { basename, resolve } from 'node:path';

import { type Command, InvalidArgumentError } from 'commander';

import { backend } from '../backend/index.js';
import { MerClip } from '../model/merclip.js';
import { InferenceServer } from '../serve/server.js';
import { parseIntOption } from './train.js';

function parseDelay(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('--max-delay-ms must be a number ≥ 0.');
  return n;
}

/** glibc's default initial mmap threshold (128 KiB), fixed for the serve process. */
const SERVE_MMAP_THRESHOLD = 128 * 1024;

interface ServeOpts {
  model: string;
  name?: string;
  port: number;
  host: string;
  maxBatch: number;
  maxDelayMs: number;
  maxQueue: number;
  bodyLimit: number;
  log?: boolean;
}

export function registerServe(program: Command, out: (s: string) => void): void {
  program
    .command('serve')
    .description('serve a trained model over HTTP (KServe v2 / Open Inference Protocol), with dynamic batching and Prometheus /metrics')
    .requiredOption('--model <dir>', 'model directory (config.json + model.safetensors)')
    .option('--name <name>', "the model's name in the URLs (default: the directory's base name)")
    .option('--port <n>', 'port (0: any free port; the address is printed)', parseIntOption('--port', 0), 8000)
    .option('--host <host>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    .option('--max-batch <n>', 'samples per batch', parseIntOption('--max-batch', 1), 32)
    .option('--max-delay-ms <ms>', 'how long an idle model waits for more requests to batch', parseDelay, 2)
    .option('--max-queue <n>', 'samples that may wait; beyond it requests get 503', parseIntOption('--max-queue', 1), 1024)
    .option('--body-limit <bytes>', 'largest request body (413 beyond it)', parseIntOption('--body-limit', 1024), 64 * 2 ** 20)
    .option('--log', "fastify's request log on stderr")
    .action(async (opts: ServeOpts) => {
      const name = opts.name ?? basename(resolve(opts.model));
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new Error(`model name "${name}" must be letters, digits, '.', '_' or '-' (set one with --name)`);
      // A service process: large buffers get their own mappings, so what a batch frees goes back to
      // the OS instead of staying resident in the heap (paper model, B32: ~40 MiB less RSS; see
      // the README's memory table). An operator's MALLOC_MMAP_THRESHOLD_ is left as set.
      if (process.env.MALLOC_MMAP_THRESHOLD_ === undefined) backend.native().setMmapThreshold(SERVE_MMAP_THRESHOLD);
      const model = await MerClip.load(opts.model);
      const server = new InferenceServer(model, {
        name, maxBatchSize: opts.maxBatch, maxDelayMs: opts.maxDelayMs, maxQueue: opts.maxQueue, bodyLimit: opts.bodyLimit, logger: opts.log ?? false,
      });
      await server.warmUp();
      const address = await server.listen({ host: opts.host, port: opts.port });
      out(`merclip serve: model "${name}" (${opts.model}) listening on ${address} — max batch ${opts.maxBatch}, max delay ${opts.maxDelayMs} ms, max queue ${opts.maxQueue}\n`);
      out(`  POST ${address}/v2/models/${name}/infer · GET ${address}/v2/health/ready · GET ${address}/metrics\n`);
      const signal = await new Promise<NodeJS.Signals>((res) => {
        process.once('SIGTERM', () => res('SIGTERM'));
        process.once('SIGINT', () => res('SIGINT'));
      });
      out(`merclip serve: ${signal}: stopping (in-flight requests finish)\n`);
      const r = await server.stop();
      out(`merclip serve: stopped; ${r.inFlight} in-flight request(s) answered${r.rejected ? `, ${r.rejected} queued call(s) rejected` : ''}\n`);
    });
}
