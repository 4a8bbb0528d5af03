// lib/distributed/trainProcessor.ts — the train queue's BullMQ sandboxed processor: it runs in a
// worker thread of `merclip worker` (useWorkerThreads), so a training's compute never blocks the
// worker's event loop and its job lock keeps being renewed; the thread dies with the process, so a
// killed worker leaves no training behind. Returns the run's result as exact JSON (training.ts).
import type { SandboxedJob } from 'bullmq';

import { encodeResult, runTrainJob, type TrainJobData } from './training.js';

export default async function processTrain(job: SandboxedJob<TrainJobData>): Promise<{ json: string }> {
  const r = await runTrainJob(job.data, (p) => {
    void job.updateProgress(p).catch(() => undefined);
  });
  return encodeResult(r);
}
