// bench/training/study.ts — the training robustness study (issue 21): `npm run bench:training`
// trains the tiny MER-CLIP with a given setting on each study task (bench/training/generators.ts)
// and seed, and prints test Corr / Acc-2 per run and mean ± std per task.
//   tsx bench/training/study.ts [--tasks a,b] [--seeds 0,1,2,3,4] [--data-seed N] [--train '{"epochs":24}'] [--model '{"dropout":0.1}'] [--log FILE] [--verbose]
//   tsx bench/training/study.ts --summary FILE[,FILE]   (no training: the table from logged runs)
// --train holds train() options (lib/train) as JSON over train()'s own defaults (the CLI's);
// nothing else differs between runs. A seed draws both the data set and the model unless
// --data-seed fixes the draw (then the seeds vary the training only: initialisation, batch order,
// dropout). --log appends every run (with its per-epoch history) to a
// JSONL file.
import { readFileSync } from 'node:fs';

import type { TrainOptions } from '../../lib/train/index.js';
import { STUDY_TASKS } from './generators.js';
import { arg, drawLabel, logRun, mean, runOne, std, type StudyEpoch, type StudyRun } from './runOne.js';

function line(label: string, picks: StudyEpoch[], epochsRun: number[]): string {
  const c = picks.map((p) => p.testCorr);
  const a = picks.map((p) => 100 * p.testAcc2);
  return `== ${label}: Corr ${mean(c).toFixed(3)} ± ${std(c).toFixed(3)}, Acc-2 ${(mean(a)).toFixed(1)} ± ${std(a).toFixed(1)}, best epochs ${picks.map((p, i) => `${p.epoch}/${epochsRun[i]}`).join(',')} (${picks.length} seeds)`;
}

// Runs that drew their data with their own seed group together; a fixed draw is its own group.
const groupKey = (r: StudyRun): string => `${r.task} ${JSON.stringify(r.options)} ${JSON.stringify(r.model)}${drawLabel(r)}`;

function summarise(runs: StudyRun[]): void {
  const keys = [...new Set(runs.map(groupKey))];
  for (const key of keys) {
    const rs = runs.filter((r) => groupKey(r) === key).sort((a, b) => a.seed - b.seed);
    console.log(`${key} — seeds ${rs.map((r) => r.seed).join(',')}`);
    console.log(line('as run', rs.map((r) => r.history.find((h) => h.epoch === r.bestEpoch)!), rs.map((r) => r.epochsRun)));
  }
}

const summary = arg('summary', '');
if (summary) {
  summarise(summary.split(',').flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as StudyRun)));
} else {
  const tasks = arg('tasks', STUDY_TASKS.map((t) => t.name).join(',')).split(',');
  const seeds = arg('seeds', '0,1,2,3,4').split(',').map(Number);
  const extra = JSON.parse(arg('train', '{}')) as TrainOptions;
  const modelOverrides = JSON.parse(arg('model', '{}')) as Record<string, unknown>;
  const log = arg('log', '') || null;
  const fixedDraw = arg('data-seed', '');
  const verbose = process.argv.includes('--verbose');
  console.log(`training study — train options ${JSON.stringify(extra)}, model ${JSON.stringify(modelOverrides)}${fixedDraw ? `, data set drawn with seed ${fixedDraw} for every run` : ''}`);
  const runs: StudyRun[] = [];
  for (const name of tasks) {
    const task = STUDY_TASKS.find((t) => t.name === name);
    if (!task) throw new Error(`unknown task ${name} (${STUDY_TASKS.map((t) => t.name).join(', ')})`);
    for (const seed of seeds) {
      const r = await runOne(task, seed, extra, modelOverrides, fixedDraw ? Number(fixedDraw) : undefined);
      logRun(log, r);
      runs.push(r);
      const traj = r.history.map((h) => `${h.trainLoss.toFixed(2)}/${h.validLoss.toFixed(2)}/${h.validMae.toFixed(3)}/${h.testCorr.toFixed(2)}`).join(' ');
      console.log(`${name} seed ${seed}${drawLabel(r)}: test Corr ${r.testCorr.toFixed(3)} Acc-2 ${(100 * r.testAcc2).toFixed(1)} best epoch ${r.bestEpoch}/${r.epochsRun}, warmup ${r.warmupSteps} steps (${r.seconds.toFixed(0)} s)${verbose ? `  train loss/valid loss/valid MAE/test Corr: ${traj}` : ''}`);
    }
  }
  summarise(runs);
}
