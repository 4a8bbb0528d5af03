// bench/training/tuned.ts — the study's tuned reference (issue 21): per task and seed, a learning-
// rate grid × a long schedule (40 epochs, no early stopping: the cosine runs to its end), the
// best epoch of each run by valid MAE, and the lr chosen by that valid MAE — never by test. The
// chosen run's test Corr / Acc-2 is the reference the defaults are compared with.
//   npm run bench:training:tuned -- [--tasks a,b] [--seeds 0] [--data-seed N] [--lrs 3e-4,1e-3,2e-3] [--epochs 40] [--log FILE]
//   tsx bench/training/tuned.ts --summary FILE[,FILE]   (no training: the table from logged runs)
// --log appends every run (with its per-epoch history) to a JSONL file, so runs made by separate
// processes can be summarised together.
import { readFileSync } from 'node:fs';

import { STUDY_TASKS } from './generators.js';
import { arg, drawLabel, logRun, mean, runOne, std, type StudyRun } from './runOne.js';

const lrs = arg('lrs', '3e-4,1e-3,2e-3').split(',').map(Number);
const epochs = Number(arg('epochs', '40'));
const log = arg('log', '') || null;

function summarise(runs: StudyRun[]): void {
  const tasks = [...new Set(runs.map((r) => r.task))];
  for (const task of tasks) {
    const chosen: StudyRun[] = [];
    // One grid per (training seed, data draw).
    const grids = new Map<string, StudyRun[]>();
    for (const r of runs.filter((x) => x.task === task)) {
      const cell = `seed ${r.seed}${drawLabel(r)}`;
      grids.set(cell, [...(grids.get(cell) ?? []), r]);
    }
    for (const [cell, runsOfCell] of grids) {
      const grid = runsOfCell.sort((a, b) => a.options.lr! - b.options.lr!);
      const pick = grid.reduce((a, b) => (b.validMae < a.validMae ? b : a));
      chosen.push(pick);
      const cells = grid.map((r) => `lr ${r.options.lr}: valid MAE ${r.validMae.toFixed(4)} test Corr ${r.testCorr.toFixed(3)} (epoch ${r.bestEpoch})`).join('; ');
      console.log(`${task} ${cell}: ${cells} → lr ${pick.options.lr}`);
    }
    const c = chosen.map((r) => r.testCorr);
    const a = chosen.map((r) => 100 * r.testAcc2);
    console.log(`== ${task} tuned: lr ${chosen.map((r) => r.options.lr).join(',')}, Corr ${mean(c).toFixed(3)} ± ${std(c).toFixed(3)}, Acc-2 ${mean(a).toFixed(1)} ± ${std(a).toFixed(1)}, best epochs ${chosen.map((r) => r.bestEpoch).join(',')} (${chosen.length} seed${chosen.length > 1 ? 's' : ''})`);
  }
}

const summary = arg('summary', '');
if (summary) {
  summarise(summary.split(',').flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as StudyRun)));
} else {
  const tasks = arg('tasks', STUDY_TASKS.map((t) => t.name).join(',')).split(',');
  const seeds = arg('seeds', '0').split(',').map(Number);
  const fixedDraw = arg('data-seed', '');
  const runs: StudyRun[] = [];
  console.log(`tuned reference — lrs ${lrs.join(', ')}, ${epochs} epochs, no early stopping, lr chosen by valid MAE`);
  for (const name of tasks) {
    const task = STUDY_TASKS.find((t) => t.name === name);
    if (!task) throw new Error(`unknown task ${name} (${STUDY_TASKS.map((t) => t.name).join(', ')})`);
    for (const seed of seeds) {
      for (const lr of lrs) {
        const r = await runOne(task, seed, { epochs, patience: 0, lr }, {}, fixedDraw ? Number(fixedDraw) : undefined);
        logRun(log, r);
        runs.push(r);
        console.log(`${name} seed ${seed}${drawLabel(r)} lr ${lr}: valid MAE ${r.validMae.toFixed(4)} test Corr ${r.testCorr.toFixed(3)} Acc-2 ${(100 * r.testAcc2).toFixed(1)} best epoch ${r.bestEpoch}/${r.epochsRun} (${r.seconds.toFixed(0)} s)`);
      }
    }
  }
  summarise(runs);
}
