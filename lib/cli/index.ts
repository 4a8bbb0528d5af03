// lib/cli/index.ts — the `merclip` command line. Errors are one clear line and a non-zero exit.
import { Command, CommanderError } from 'commander';

import { backend, type BackendInfo, packageVersion } from '../backend/index.js';
import { Clip, type ClipConfig } from '../clip/model.js';
import { registerBench } from './bench.js';
import { registerBuild } from './build.js';
import { registerConvert } from './convert.js';
import { registerExtract } from './extract.js';
import { registerInspect } from './inspect.js';
import { registerReport } from './report.js';
import { registerScore } from './score.js';
import { registerSweep } from './sweep.js';
import { registerWorker } from './worker.js';
import { registerServe } from './serve.js';
import { registerEval, registerPredict } from './model.js';
import { registerSynth } from './synth.js';
import { registerTokenize } from './tokenize.js';
import { registerDemo, registerTrain } from './train.js';

function yesNo(b: boolean): string {
  return b ? 'yes' : 'no';
}

export function formatInfo(info: BackendInfo): string {
  const f = info.cpuFeatures;
  const feats = Object.entries(f).filter(([, v]) => v).map(([k]) => k).join(' ');
  const cuda = info.cuda.compiled
    ? `compiled in; ${info.cuda.deviceCount} device(s)${info.cuda.devices.length ? ': ' + info.cuda.devices.join(', ') : ''}${info.cuda.error ? ` (${info.cuda.error})` : ''}`
    : 'not compiled in (npx merclip build --cuda)';
  const rows: Array<[string, string]> = [
    ['merclip', info.packageVersion],
    ['node', `${info.nodeVersion} (ABI ${info.nodeAbi}, N-API ${info.napiVersion})`],
    ['addon', `${info.addonPath} (binding API v${info.bindingApiVersion})`],
    ['addon source', `${info.addonSource}: ${info.addonReason}`],
    ['build', `${info.buildSystem}, ${info.portable ? 'portable' : 'native (tuned to the building machine)'}`],
    ['compiler', info.compiler],
    ['flags', info.compilerFlags],
    ['simd', `${info.simdLevel} (best available: ${info.maxSimdLevel}; AVX-512 kernels built: ${yesNo(info.builtWithAvx512)}, AVX2: ${yesNo(info.builtWithAvx2)})`],
    ['cpu features', feats || 'none detected'],
    ['threads', `${info.threads} of ${info.poolThreads} (MERCLIP_NUM_THREADS)`],
    ['cuda', cuda],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

interface ClipSummary {
  dir: string;
  config: ClipConfig;
  parameters: number;
  textParameters: number;
  visionParameters: number;
  tokenizer: boolean;
}

async function describeClip(dir: string): Promise<ClipSummary> {
  const clip = await Clip.fromPretrained(dir);
  return {
    dir,
    config: clip.config,
    parameters: clip.parameterCount(),
    textParameters: clip.text_model.parameterCount() + clip.text_projection.parameterCount(),
    visionParameters: (clip.vision_model?.parameterCount() ?? 0) + (clip.visual_projection?.parameterCount() ?? 0),
    tokenizer: clip.tokenizer !== null,
  };
}

function formatClip(c: ClipSummary): string {
  const t = c.config.text_config;
  const v = c.config.vision_config;
  return [
    `clip        ${c.dir}`,
    `  text      width ${t.hidden_size}, ${t.num_hidden_layers} layers, ${t.num_attention_heads} heads, vocab ${t.vocab_size}, context ${t.max_position_embeddings}, ${t.hidden_act}`,
    `  vision    ${v ? `width ${v.hidden_size}, ${v.num_hidden_layers} layers, ${v.num_attention_heads} heads, image ${v.image_size}, patch ${v.patch_size}` : 'none (text-only checkpoint)'}`,
    `  projection ${c.config.projection_dim}`,
    `  parameters ${c.parameters.toLocaleString('en-US')} (text ${c.textParameters.toLocaleString('en-US')}, vision ${c.visionParameters.toLocaleString('en-US')})`,
    `  tokenizer ${c.tokenizer ? 'vocab.json + merges.txt' : 'not in the directory'}`,
  ].join('\n');
}

export function buildProgram(out: (s: string) => void): Command {
  const program = new Command();
  program
    .name('merclip')
    .description('Multimodal emotion recognition (MER-CLIP) with a native CPU/CUDA backend')
    .version(packageVersion(), '-V, --version', 'print the merclip version (package.json)')
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: (s) => process.stderr.write(s) });
  program
    .command('info')
    .description('print version, addon build, SIMD level, threads and CUDA status')
    .option('--json', 'print as JSON')
    .option('--clip <dir>', 'also load a Hugging Face CLIP directory and describe it')
    .action(async (opts: { json?: boolean; clip?: string }) => {
      const info = backend.info();
      const clip = opts.clip ? await describeClip(opts.clip) : null;
      if (opts.json) out(JSON.stringify(clip ? { ...info, clip } : info, null, 2) + '\n');
      else out(formatInfo(info) + '\n' + (clip ? formatClip(clip) + '\n' : ''));
    });
  registerDemo(program, out);
  registerTrain(program, out);
  registerEval(program, out);
  registerPredict(program, out);
  registerServe(program, out);
  registerSynth(program, out);
  registerConvert(program, out);
  registerExtract(program, out);
  registerReport(program, out);
  registerBench(program, out);
  registerBuild(program, out);
  registerInspect(program, out);
  registerTokenize(program, out);
  registerScore(program, out);
  registerWorker(program, out);
  registerSweep(program, out);
  return program;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram((s) => process.stdout.write(s));
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit with code 0; usage errors were already printed by commander
      return err.exitCode;
    }
    const msg = (err as Error).message.replace(/^merclip: /, ''); // library errors name merclip already
    process.stderr.write(`merclip: ${msg.split('\n').join('\n  ')}\n`);
    return 1;
  }
}
