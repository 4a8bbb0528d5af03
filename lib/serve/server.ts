// lib/serve/server.ts — `merclip serve`'s HTTP server: one model behind the KServe v2 / Open
// Inference Protocol (protocol.ts), concurrent requests coalesced by a DynamicBatcher
// (batcher.ts), Prometheus metrics (prom-client, a registry per server).
//
// Routes: GET /v2 (server metadata), GET /v2/health/live, GET /v2/health/ready (200 once the
// model has answered a warm-up predict, 503 while starting or shutting down),
// GET /v2/models/{name}, GET /v2/models/{name}/ready, POST /v2/models/{name}/infer, GET /metrics.
// Errors are `{ "error": message }` (the protocol's form): 400 malformed request (the message
// names the input and the problem), 404 unknown model or route, 413 body over bodyLimit,
// 415 unsupported content type, 503 queue full (Retry-After: 1) or shutting down, 500 otherwise.
// A request whose client disconnects before its batch starts is withdrawn from the queue.
// Stateless: nothing is kept between requests, so replicas scale out behind any load balancer.
//
// stop(): not ready, stop accepting connections, let in-flight requests finish (their calls run
// as batches as usual), then drain the batcher and close the model's worker.
import fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

import { packageVersion } from '../backend/index.js';
import type { MerClip } from '../model/merclip.js';
import type { Sample } from '../model/batch.js';
import { WavError } from '../audio/wav.js';
import { decodeSamples, needsDecoding } from '../model/decode.js';
import { type Prediction, predictBatcher, type PredictOptions } from '../model/predict.js';
import { BatcherError, type CloseResult, DynamicBatcher } from '../model/batcher.js';
import { inferResponse, modelMetadata, parseInferRequest, ProtocolError } from './protocol.js';

export interface ServerOptions {
  /** The name in the URLs (/v2/models/{name}). */
  name: string;
  /** Samples per batch (default 32). */
  maxBatchSize?: number;
  /** How long an idle server waits for a request to gather company (ms, default 2). */
  maxDelayMs?: number;
  /** Samples that may wait before requests get 503 (default 1024). */
  maxQueue?: number;
  /** Largest request body in bytes (default 64 MiB). */
  bodyLimit?: number;
  /** Fastify's request log, on stderr (default off). */
  logger?: boolean;
}

export interface StopResult extends CloseResult {
  /** Infer requests that were in flight when stop() began and were answered (any status). */
  inFlight: number;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

function sendError(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type('application/json').send({ error: message });
}

export class InferenceServer {
  readonly app: FastifyInstance;
  readonly batcher: DynamicBatcher<Sample, Prediction, PredictOptions>;
  readonly registry = new Registry();
  readonly name: string;
  private ready = false;
  private stopping: Promise<StopResult> | null = null;
  private inFlight = 0;
  private answeredWhileStopping = 0;
  private readonly metrics;

  constructor(readonly model: MerClip, opts: ServerOptions) {
    this.name = opts.name;
    const maxBatchSize = opts.maxBatchSize ?? 32;
    const bodyLimit = opts.bodyLimit ?? 64 * 2 ** 20;
    const config = model.config;
    collectDefaultMetrics({ register: this.registry });
    this.metrics = {
      latency: new Histogram({ name: 'merclip_request_duration_seconds', help: 'HTTP request latency', labelNames: ['method', 'route', 'status_code'], buckets: LATENCY_BUCKETS, registers: [this.registry] }),
      batchSize: new Histogram({ name: 'merclip_batch_size', help: 'Samples per batch the model ran', buckets: SIZE_BUCKETS, registers: [this.registry] }),
      batchCalls: new Histogram({ name: 'merclip_batch_requests', help: 'Requests coalesced per batch', buckets: SIZE_BUCKETS, registers: [this.registry] }),
      batchSeconds: new Histogram({ name: 'merclip_batch_duration_seconds', help: 'Time the model took per batch', buckets: LATENCY_BUCKETS, registers: [this.registry] }),
      queueWait: new Histogram({ name: 'merclip_queue_wait_seconds', help: 'Time a request waited for its batch', buckets: LATENCY_BUCKETS, registers: [this.registry] }),
      rejected: new Counter({ name: 'merclip_requests_rejected_total', help: 'Infer requests not answered with predictions, by reason', labelNames: ['reason'], registers: [this.registry] }),
      samples: new Counter({ name: 'merclip_samples_total', help: 'Samples predicted', registers: [this.registry] }),
    };
    const batcher = predictBatcher<PredictOptions>(
      config,
      (samples, o) => model.predict(samples, { ...o, batchSize: maxBatchSize }),
      {
        maxBatchSize,
        maxDelayMs: opts.maxDelayMs ?? 2,
        maxQueue: opts.maxQueue ?? 1024,
        onBatch: (i) => {
          this.metrics.batchSize.observe(i.size);
          this.metrics.batchCalls.observe(i.calls);
          this.metrics.batchSeconds.observe(i.runMs / 1000);
          for (const w of i.waitedMs) this.metrics.queueWait.observe(w / 1000);
        },
      });
    this.batcher = batcher;
    new Gauge({ name: 'merclip_queue_depth', help: 'Samples waiting for a batch', registers: [this.registry], collect() { this.set(batcher.queueDepth); } });
    const inFlight = (): number => this.inFlight;
    new Gauge({ name: 'merclip_requests_in_flight', help: 'Infer requests being answered', registers: [this.registry], collect() { this.set(inFlight()); } });
    const isReady = (): boolean => this.ready;
    new Gauge({ name: 'merclip_ready', help: '1 when the server takes infer requests', registers: [this.registry], collect() { this.set(isReady() ? 1 : 0); } });

    const app = fastify({ logger: opts.logger ? { level: 'info', stream: process.stderr } : false, bodyLimit, forceCloseConnections: 'idle', return503OnClosing: true });
    this.app = app;
    // Binary data extension (and anything not JSON): the raw bytes; the route decides.
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));
    app.setErrorHandler((err: FastifyError, _req, reply) => {
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        this.metrics.rejected.inc({ reason: 'too_large' });
        return sendError(reply, 413, `the request body is larger than the server's limit of ${bodyLimit} bytes (merclip serve --body-limit)`);
      }
      const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
      const notJson = status === 400 && ((err as Error) instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY');
      return sendError(reply, status, notJson ? `the request body is not valid JSON: ${err.message}` : err.message);
    });
    app.setNotFoundHandler((req, reply) => sendError(reply, 404, `no route ${req.method} ${req.url} (KServe v2: /v2/health/live, /v2/health/ready, /v2/models/${this.name}, /v2/models/${this.name}/infer, /metrics)`));
    // While stopping, answered connections close (a client's keep-alive socket would otherwise hold
    // the server open for fastify's keepAliveTimeout after the in-flight requests are done).
    app.addHook('onSend', async (_req, reply, payload) => {
      if (this.stopping) reply.header('connection', 'close');
      return payload;
    });
    app.addHook('onResponse', async (req, reply) => {
      this.metrics.latency.observe({ method: req.method, route: req.routeOptions.url ?? 'unknown', status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    });

    const checkModel = (req: FastifyRequest<{ Params: { name: string } }>, reply: FastifyReply): boolean => {
      if (req.params.name === this.name) return true;
      sendError(reply, 404, `unknown model "${req.params.name}"; this server serves "${this.name}"`);
      return false;
    };
    app.get('/v2', async () => ({ name: 'merclip', version: packageVersion(), extensions: ['binary_tensor_data'] }));
    app.get('/v2/health/live', async () => ({ live: true }));
    app.get('/v2/health/ready', async (_req, reply) => (this.ready ? { ready: true } : reply.code(503).send({ ready: false })));
    app.get<{ Params: { name: string } }>('/v2/models/:name', async (req, reply) => {
      if (!checkModel(req, reply)) return reply;
      return modelMetadata(this.name, config, maxBatchSize);
    });
    app.get<{ Params: { name: string } }>('/v2/models/:name/ready', async (req, reply) => {
      if (!checkModel(req, reply)) return reply;
      return this.ready ? { name: this.name, ready: true } : reply.code(503).send({ name: this.name, ready: false });
    });
    app.post<{ Params: { name: string } }>('/v2/models/:name/infer', (req, reply) => this.infer(req, reply));
    app.get('/metrics', async (_req, reply) => reply.type(this.registry.contentType).send(await this.registry.metrics()));
  }

  private async infer(req: FastifyRequest<{ Params: { name: string } }>, reply: FastifyReply): Promise<FastifyReply> {
    if (req.params.name !== this.name) return sendError(reply, 404, `unknown model "${req.params.name}"; this server serves "${this.name}"`);
    if (!this.ready) return sendError(reply, 503, this.stopping ? 'the server is shutting down' : 'the model is still loading');
    this.inFlight++;
    try {
      let parsed;
      try {
        parsed = parseInferRequest(...this.splitBody(req));
      } catch (err) {
        this.metrics.rejected.inc({ reason: 'invalid' });
        if (err instanceof ProtocolError) return sendError(reply, err.statusCode, err.message);
        throw err;
      }
      // Raw inputs (encoded images, WAV bytes) are decoded here, before the batcher's per-call
      // validation, which takes decoded frames and log-mel features only.
      if (needsDecoding(parsed.samples, this.model.config)) {
        try {
          parsed = { ...parsed, samples: await decodeSamples(parsed.samples, this.model.config) };
        } catch (err) {
          const e = err as Error;
          const client = e instanceof RangeError || e instanceof TypeError || e instanceof WavError;
          this.metrics.rejected.inc({ reason: client ? 'invalid' : 'error' });
          return sendError(reply, client ? 400 : 500, client ? e.message : `decoding the raw inputs failed: ${e.message}`);
        }
      }
      // the client going away before the batch starts withdraws the request
      const ctl = new AbortController();
      const onClose = (): void => {
        if (!reply.raw.writableFinished) ctl.abort(new Error('the client closed the connection'));
      };
      reply.raw.once('close', onClose);
      let preds: Prediction[];
      try {
        preds = await this.batcher.submit(parsed.samples, { options: parsed.options, signal: ctl.signal });
      } catch (err) {
        const e = err as Error & { code?: string };
        if (e.name === 'AbortError') {
          this.metrics.rejected.inc({ reason: 'aborted' });
          return sendError(reply, 499, 'the client closed the connection before its batch started');
        }
        if (e instanceof BatcherError && e.code === 'ERR_BATCHER_QUEUE_FULL') {
          this.metrics.rejected.inc({ reason: 'queue_full' });
          return sendError(reply.header('retry-after', '1'), 503, e.message);
        }
        if (e instanceof BatcherError && e.code === 'ERR_BATCHER_CLOSED') {
          this.metrics.rejected.inc({ reason: 'closed' });
          return sendError(reply, 503, 'the server is shutting down');
        }
        if (e instanceof RangeError || e instanceof TypeError) {
          this.metrics.rejected.inc({ reason: 'invalid' });
          return sendError(reply, 400, e.message);
        }
        this.metrics.rejected.inc({ reason: 'error' });
        return sendError(reply, 500, `inference failed: ${e.message}`);
      } finally {
        reply.raw.off('close', onClose);
      }
      this.metrics.samples.inc(preds.length);
      const labels = parsed.options.labels ?? this.model.config.labels;
      const { header, blobs } = inferResponse(this.name, parsed, preds, labels);
      if (blobs.length === 0) return reply.send(header);
      // Binary data extension: the JSON header, then the outputs' bytes in output order.
      const json = Buffer.from(JSON.stringify(header), 'utf8');
      return reply
        .header('inference-header-content-length', String(json.length))
        .type('application/octet-stream')
        .send(Buffer.concat([json, ...blobs]));
    } finally {
      this.inFlight--;
      if (this.stopping) this.answeredWhileStopping++;
    }
  }

  /** JSON body, or (binary data extension) the JSON header and the binary section. */
  private splitBody(req: FastifyRequest): [unknown, MerClip['config'], Buffer | null] {
    const config = this.model.config;
    if (!Buffer.isBuffer(req.body)) return [req.body, config, null];
    const header = req.headers['inference-header-content-length'];
    if (header === undefined) {
      throw new ProtocolError(`unsupported content type ${JSON.stringify(req.headers['content-type'] ?? '')}: send application/json, or binary tensor data with an Inference-Header-Content-Length header`, 415);
    }
    const n = Number(header);
    if (!Number.isInteger(n) || n < 0 || n > req.body.length) throw new ProtocolError(`Inference-Header-Content-Length ${JSON.stringify(header)} is not a byte count within the ${req.body.length}-byte body`);
    let json: unknown;
    try {
      json = JSON.parse(req.body.subarray(0, n).toString('utf8'));
    } catch (err) {
      throw new ProtocolError(`the JSON header (first ${n} bytes) is not valid JSON: ${(err as Error).message}`);
    }
    return [json, config, req.body.subarray(n)];
  }

  /** Warms the model's worker up (one tiny predict), then marks the server ready. */
  async warmUp(): Promise<void> {
    const c = this.model.config;
    const m = c.modalityOrder[0]!;
    await this.model.predict({ [m]: new Float32Array(c.modalities[m].dim) });
    this.ready = true;
  }

  async listen(opts: { host?: string; port?: number } = {}): Promise<string> {
    return this.app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 8000 });
  }

  get isReady(): boolean {
    return this.ready;
  }

  /** Graceful stop (see the file header); a second call returns the first's result. */
  stop(): Promise<StopResult> {
    this.stopping ??= (async () => {
      this.ready = false;
      await this.app.close(); // in-flight requests finish; idle keep-alive sockets are closed
      const closed = await this.batcher.close({ drain: true });
      await this.model.close();
      return { ...closed, inFlight: this.answeredWhileStopping };
    })();
    return this.stopping;
  }
}
