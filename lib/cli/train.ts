// lib/cli/train.ts — `merclip demo` and `merclip train`: training with a progress bar (loss,
// learning rate, samples/s on stderr), a per-epoch line, the MMSA metric table at the end.
// --quiet drops the bar and the epoch lines; --json prints one JSON object (stdout) instead.

import { resolve } from 'node:path';

import { type Command, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';

import { Clip } from '../clip/model.js';
import type { DataSplit } from '../data/batch.js';
import { configFromClip } from '../model/clipWeights.js';
import { extractedConfig, extractProvenance } from '../model/extract.js';
import { generateSynthetic } from '../data/synth.js';
import { formatMeanStdTable, formatMetricTable, meanStd, type RegressionMetrics } from '../eval/metrics.js';
import { MODALITIES, makeConfig, type Modality, type MerClipConfig, validateConfig } from '../model/config.js';
import { TRAIN_DEFAULTS, train, type TrainEvent, type TrainResult } from '../train/index.js';
import { readDataset } from '../data/file.js';
import { readFileSync } from 'node:fs';

export function parseIntOption(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}.`);
    return n;
  };
}

export function parseNumberOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number.`);
    return n;
  };
}

function parseDrop(value: string, prev: Modality[] = []): Modality[] {
  const out = [...prev];
  for (const m of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!MODALITIES.includes(m as Modality)) throw new InvalidArgumentError(`unknown modality "${m}" (expected text, audio or vision).`);
    out.push(m as Modality);
  }
  return out;
}

function parseMonitor(value: string): 'mae' | 'loss' {
  if (value !== 'mae' && value !== 'loss') throw new InvalidArgumentError('--monitor must be mae or loss.');
  return value;
}

function parseSeeds(value: string): number[] {
  const seeds = value.split(',').map((s) => s.trim());
  if (seeds.length === 0 || seeds.some((s) => !/^\d+$/.test(s) || !Number.isSafeInteger(Number(s)))) throw new InvalidArgumentError('--seeds must be a comma-separated list of non-negative integers.');
  return seeds.map(Number);
}

interface RunOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  seeds?: number[];
  out: string;
  resume?: boolean;
  drop?: Modality[];
  quiet?: boolean;
  json?: boolean;
  checkpointEvery?: number;
  patience?: number;
  warmupFloor?: number;
  monitor?: 'mae' | 'loss';
  /** CLIP weights for the label encoder and the towers (train --clip). */
  clipModel?: Clip;
}

/** A progress reporter: a cli-progress bar on stderr plus one line per epoch. */
function reporter(opts: RunOptions, out: (s: string) => void, label: string): { onEvent: (e: TrainEvent) => void; stop: () => void } {
  if (opts.quiet || opts.json) return { onEvent: () => {}, stop: () => {} };
  const tty = process.stderr.isTTY === true;
  const bar = new cliProgress.SingleBar({
    format: `${label} {bar} {percentage}% | step {value}/{total} | epoch {epoch} | loss {loss} | lr {lr} | {sps} samples/s`,
    stream: process.stderr,
    hideCursor: tty,
    noTTYOutput: !tty,
    notTTYSchedule: 10_000,
    etaBuffer: 50,
  }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    onEvent(e) {
      if (e.type === 'start') {
        bar.start(e.totalSteps, e.resumedAtStep, { epoch: 1, loss: '-', lr: '-', sps: '-' });
        started = true;
      } else if (e.type === 'step') {
        bar.update(e.step, { epoch: e.epoch + 1, loss: e.loss.toFixed(4), lr: e.lr.toExponential(2), sps: e.samplesPerSec.toFixed(0) });
      } else if (e.type === 'epoch') {
        const r = e.record;
        bar.stop();
        out(`epoch ${r.epoch}: train loss ${r.trainLoss.toFixed(4)}, valid loss ${r.validLoss.toFixed(4)}, valid Acc-2 ${(100 * r.valid.acc2Has0).toFixed(1)}, MAE ${r.valid.mae.toFixed(3)}, Corr ${r.valid.corr.toFixed(3)} (${r.seconds.toFixed(1)} s, ${r.samplesPerSec.toFixed(0)} samples/s)\n`);
        bar.start(bar.getTotal(), r.step, { epoch: r.epoch + 1, loss: '-', lr: '-', sps: '-' });
      } else if (e.type === 'early-stop') {
        bar.stop();
        started = false;
        out(`early stop after epoch ${e.epoch}: the valid ${e.monitor === 'mae' ? 'MAE' : 'loss'} has not improved for ${e.patience} epochs (best epoch ${e.bestEpoch})\n`);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

async function runTraining(
  data: { train: DataSplit; valid: DataSplit; test?: DataSplit | undefined },
  model: MerClipConfig,
  opts: RunOptions,
  out: (s: string) => void,
  label: string,
): Promise<{ results: TrainResult[]; dirs: string[] }> {
  const seeds = opts.seeds ?? [opts.seed];
  const results: TrainResult[] = [];
  const dirs: string[] = [];
  for (const seed of seeds) {
    const dir = seeds.length > 1 ? resolve(opts.out, `seed-${seed}`) : resolve(opts.out);
    const rep = reporter(opts, out, seeds.length > 1 ? `${label} seed ${seed}` : label);
    try {
      results.push(await train(data, {
        model, epochs: opts.epochs, batchSize: opts.batchSize, lr: opts.lr, seed, outDir: dir,
        resume: opts.resume ?? false, drop: opts.drop ?? [], checkpointEvery: opts.checkpointEvery ?? 0, onEvent: rep.onEvent,
        ...(opts.patience !== undefined ? { patience: opts.patience } : {}), ...(opts.warmupFloor !== undefined ? { warmupFloor: opts.warmupFloor } : {}),
        ...(opts.monitor !== undefined ? { monitor: opts.monitor } : {}),
        ...(opts.clipModel ? { clip: opts.clipModel } : {}),
      }));
    } finally {
      rep.stop();
    }
    dirs.push(dir);
  }
  return { results, dirs };
}

function report(results: TrainResult[], dirs: string[], opts: RunOptions, out: (s: string) => void, extra: Record<string, unknown> = {}): void {
  const tests = results.map((r) => r.test).filter((t): t is RegressionMetrics => t !== null);
  if (opts.json) {
    out(JSON.stringify({
      ...extra,
      runs: results.map((r, i) => ({ seed: (opts.seeds ?? [opts.seed])[i], alreadyFinished: r.alreadyFinished, bestEpoch: r.bestEpoch, bestValidLoss: r.bestValidLoss, test: r.test, history: r.history, modelDir: r.modelDir, outDir: dirs[i] })),
      ...(tests.length > 1 ? { testMeanStd: meanStd(tests) } : {}),
    }, null, 2) + '\n');
    return;
  }
  for (const [i, r] of results.entries()) {
    if (r.alreadyFinished) {
      out(`the run in ${dirs[i]} already finished (${r.history.length} epochs, best epoch ${r.bestEpoch}); nothing was redone and its outputs are kept\n`);
    }
  }
  if (results.length > 0 && results.every((r) => r.alreadyFinished)) return;
  if (tests.length === 0) {
    out(`no test split: best epoch ${results[0]?.bestEpoch ?? '-'}; model in ${results[0]?.modelDir ?? '-'}\n`);
    return;
  }
  out(`\ntest metrics at the best epoch (by valid ${(opts.monitor ?? TRAIN_DEFAULTS.monitor) === 'mae' ? 'MAE' : 'loss'})${opts.drop?.length ? `, without ${opts.drop.join(', ')}` : ''}:\n`);
  out((tests.length > 1 ? formatMeanStdTable(meanStd(tests)) : formatMetricTable(tests[0]!)) + '\n');
  if (results.length > 1) {
    const be = results.map((r) => r.bestEpoch);
    const m = be.reduce((a, b) => a + b, 0) / be.length;
    const sd = Math.sqrt(be.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, be.length - 1));
    out(`best epochs: ${be.join(', ')} (mean ${m.toFixed(1)} ± ${sd.toFixed(1)}, range ${Math.min(...be)}–${Math.max(...be)})\n`);
  }
  out(`\nbest model: ${results.map((r) => `${r.modelDir} (epoch ${r.bestEpoch})`).join(', ')}\n`);
  out(`checkpoint and metrics.jsonl: ${dirs.join(', ')}\n`);
}

export function registerDemo(program: Command, out: (s: string) => void): void {
  program
    .command('demo')
    .description('generate the synthetic MOSI-shaped set, train the tiny MER-CLIP on it and print the test metrics')
    .option('--epochs <n>', 'epochs', parseIntOption('--epochs', 1), 4)
    .option('--batch-size <n>', 'batch size', parseIntOption('--batch-size', 1), 32)
    .option('--lr <x>', 'peak learning rate', parseNumberOption('--lr'), 2e-3)
    .option('--seed <n>', 'seed (data and model)', parseIntOption('--seed', 0), 1)
    .option('--drop <modalities>', 'leave modalities out (comma-separated: text,audio,vision)', parseDrop)
    .option('--out <dir>', 'where the checkpoint and the best model go', 'merclip-demo')
    .option('--quiet', 'no progress output')
    .option('--json', 'print the result as JSON')
    .action(async (opts: RunOptions) => {
      if (!opts.quiet && !opts.json) out('generating the synthetic MOSI-shaped dataset (train 1284, valid 229, test 686; text 50×768, audio 375×5, vision 500×20)…\n');
      const ds = generateSynthetic({ seed: opts.seed });
      const { results, dirs } = await runTraining(ds.splits, makeConfig('tiny'), opts, out, 'demo');
      report(results, dirs, opts, out, { dataset: 'synthetic', seed: opts.seed, drop: opts.drop ?? [] });
    });
}

export function registerTrain(program: Command, out: (s: string) => void): void {
  program
    .command('train')
    .description('train MER-CLIP on a dataset file (merclip synth / merclip convert)')
    .requiredOption('--data <file>', 'dataset file (.safetensors)')
    .option('--config <preset|file>', 'model: "tiny", "paper" or a config.json', 'tiny')
    .option('--epochs <n>', 'the most epochs (early stopping may end the run sooner; see --patience)', parseIntOption('--epochs', 1), TRAIN_DEFAULTS.epochs)
    .option('--batch-size <n>', 'batch size', parseIntOption('--batch-size', 1), TRAIN_DEFAULTS.batchSize)
    .option('--lr <x>', 'peak learning rate', parseNumberOption('--lr'), TRAIN_DEFAULTS.lr)
    .option('--seed <n>', 'seed', parseIntOption('--seed', 0), 0)
    .option('--seeds <list>', 'several seeds (a,b,c): mean ± std of the test metrics', parseSeeds)
    .option('--drop <modalities>', 'leave modalities out (comma-separated)', parseDrop)
    .option('--checkpoint-every <n>', 'also checkpoint every N steps', parseIntOption('--checkpoint-every', 1))
    .option('--patience <n>', 'early stopping: stop when the monitored valid metric (--monitor) has not improved for N epochs (0: off)', parseIntOption('--patience', 0), TRAIN_DEFAULTS.patience)
    .option('--monitor <mae|loss>', 'what picks the best epoch and drives early stopping: the valid MAE or the valid loss (L1 + λ·CE)', parseMonitor, TRAIN_DEFAULTS.monitor)
    .option('--warmup-floor <n>', 'fewest learning-rate warmup steps (warmup is 5 % of the steps, at least this, at most a quarter)', parseIntOption('--warmup-floor', 0), TRAIN_DEFAULTS.warmupFloor)
    .option('--resume', 'continue from the checkpoint in --out')
    .option('--clip <dir>', 'a Hugging Face CLIP directory (openai/clip-vit-base-patch32 layout): its text tower becomes the label encoder')
    .option('--clip-inputs <modalities>', 'with --clip: modalities whose features came from its towers (text,vision; merclip extract): the model then also takes raw transcripts / frames', parseDrop)
    .option('--out <dir>', 'output directory (checkpoint, best/, metrics.jsonl)', 'merclip-run')
    .option('--quiet', 'no progress output')
    .option('--json', 'print the result as JSON')
    .action(async (opts: RunOptions & { data: string; config: string; clip?: string; clipInputs?: Modality[] }) => {
      const { splits, metadata } = await readDataset(opts.data);
      if (!splits.train || !splits.valid) throw new Error(`${opts.data}: training needs a train and a valid split (it has ${Object.keys(splits).join(', ') || 'none'})`);
      const extracted = extractProvenance(metadata, opts.data);
      let model = opts.config === 'tiny' || opts.config === 'paper'
        ? makeConfig(opts.config)
        : validateConfig(JSON.parse(readFileSync(opts.config, 'utf8')) as MerClipConfig, opts.config);
      // the model follows the data's feature sizes
      const longest = (m: Modality): number => Math.max(splits.train![m].length, splits.valid![m].length, splits.test?.[m].length ?? 0);
      for (const m of MODALITIES) {
        model.modalities[m] = { ...model.modalities[m], dim: splits.train[m].dim, maxLength: Math.max(model.modalities[m].maxLength, longest(m)) };
      }
      if (opts.clipInputs?.length && !opts.clip) throw new Error('--clip-inputs needs --clip DIR.');
      if (extracted) {
        // merclip extract wrote it: the sources and towers are the ones its provenance names
        if (!opts.clip) throw new Error(`${opts.data} holds features merclip extract computed with the CLIP towers in ${extracted.clip.dir}: pass --clip DIR (that directory).`);
        if (opts.clipInputs?.length) throw new Error(`--clip-inputs: ${opts.data} records its sources (merclip extract); leave --clip-inputs out.`);
        const clip = await Clip.fromPretrained(opts.clip);
        model = await extractedConfig(extracted, clip, opts.clip, opts.data, model);
        for (const m of MODALITIES) model.modalities[m].maxLength = Math.max(model.modalities[m].maxLength, longest(m));
        validateConfig(model);
        opts.clipModel = clip;
      } else if (opts.clip) {
        const clip = await Clip.fromPretrained(opts.clip);
        const inputs = opts.clipInputs ?? [];
        if (inputs.includes('audio')) throw new Error('--clip-inputs: audio has no CLIP tower (text, vision).');
        const sources: Parameters<typeof configFromClip>[2] = {};
        if (inputs.includes('text')) sources.text = { maxLength: Math.min(model.modalities.text.maxLength, clip.config.text_config.max_position_embeddings) };
        if (inputs.includes('vision')) sources.vision = { maxLength: model.modalities.vision.maxLength };
        model = configFromClip(clip, model, sources);
        for (const m of inputs) {
          if (model.modalities[m].dim !== splits.train[m].dim) {
            throw new Error(`--clip-inputs ${m}: the data's ${m} features have dim ${splits.train[m].dim}, the CLIP ${m} tower gives ${model.modalities[m].dim} (extract them with merclip extract --clip ${opts.clip})`);
          }
          if (longest(m) > model.modalities[m].maxLength) throw new Error(`--clip-inputs ${m}: the data's ${m} sequences (${longest(m)}) are longer than the CLIP tower allows (${model.modalities[m].maxLength})`);
        }
        opts.clipModel = clip;
      }
      const { results, dirs } = await runTraining({ train: splits.train, valid: splits.valid, test: splits.test }, model, opts, out, 'train');
      report(results, dirs, opts, out, { data: opts.data });
    });
}
