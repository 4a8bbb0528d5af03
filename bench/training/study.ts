// bench/training/study.ts — the training robustness study (issue 21): `npm run bench:training`
// trains the tiny MER-CLIP with a given setting on each study task (bench/training/generators.ts)
// and seed, and prints test Corr / Acc-2 per run and mean ± std per task.
//   tsx bench/training/study.ts [--tasks a,b] [--seeds 0,1,2,3,4] [--train '{"epochs":24}'] [--model '{"dropout":0.1}'] [--verbose]
// --train holds train() options (lib/train) as JSON over train()'s own defaults (the CLI's);
// nothing else differs between runs.
import { makeConfig } from '../../lib/model/config.js';
import { train, type TrainOptions } from '../../lib/train/index.js';
import { generateStudy, STUDY_TASKS } from './generators.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

const tasks = arg('tasks', STUDY_TASKS.map((t) => t.name).join(',')).split(',');
const seeds = arg('seeds', '0,1,2,3,4').split(',').map(Number);
const extra = JSON.parse(arg('train', '{}')) as TrainOptions;
const modelOverrides = JSON.parse(arg('model', '{}')) as Record<string, unknown>;
const verbose = process.argv.includes('--verbose');

const mean = (a: number[]): number => a.reduce((s, x) => s + x, 0) / a.length;
const std = (a: number[]): number => (a.length > 1 ? Math.sqrt(a.reduce((s, x) => s + (x - mean(a)) ** 2, 0) / (a.length - 1)) : 0);

console.log(`training study — train options ${JSON.stringify(extra)}, model ${JSON.stringify(modelOverrides)}`);
for (const name of tasks) {
  const task = STUDY_TASKS.find((t) => t.name === name);
  if (!task) throw new Error(`unknown task ${name} (${STUDY_TASKS.map((t) => t.name).join(', ')})`);
  const corr: number[] = [];
  const acc: number[] = [];
  const bestEpochs: number[] = [];
  for (const seed of seeds) {
    const splits = generateStudy(task, 1000 + seed);
    const model = makeConfig('tiny', modelOverrides);
    for (const m of ['text', 'audio', 'vision'] as const) model.modalities[m] = { dim: splits.train[m].dim, maxLength: splits.train[m].length };
    const t0 = performance.now();
    let warmupSteps = 0;
    const r = await train(splits, { model, seed, ...extra, onEvent: (e) => { if (e.type === 'start') warmupSteps = e.warmupSteps; } });
    corr.push(r.test!.corr);
    acc.push(r.test!.acc2Has0);
    bestEpochs.push(r.bestEpoch);
    const traj = r.history.map((h) => `${h.trainLoss.toFixed(2)}/${h.validLoss.toFixed(2)}/${h.valid.mae.toFixed(3)}/${h.test!.corr.toFixed(2)}/s${(h.logitScale ?? NaN).toFixed(0)}`).join(' ');
    if (seed === seeds[0]) console.log(`(${name}: ${r.history.length} epochs run, warmup ${warmupSteps} steps)`);
    console.log(`${name} seed ${seed}: test Corr ${r.test!.corr.toFixed(3)} Acc-2 ${(100 * r.test!.acc2Has0).toFixed(1)} best epoch ${r.bestEpoch}/${r.history.length} (${((performance.now() - t0) / 1000).toFixed(0)} s)${verbose ? `  train loss/valid loss/valid MAE/test Corr/logit scale: ${traj}` : ''}`);
  }
  console.log(`== ${name}: Corr ${mean(corr).toFixed(3)} ± ${std(corr).toFixed(3)}, Acc-2 ${(100 * mean(acc)).toFixed(1)} ± ${(100 * std(acc)).toFixed(1)}, best epochs ${bestEpochs.join(',')}`);
}
