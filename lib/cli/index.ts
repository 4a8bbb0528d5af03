// lib/cli/index.ts — the `merclip` command line. Errors are one clear line and a non-zero exit.
import { Command, CommanderError } from 'commander';

import { backend, type BackendInfo } from '../backend/index.js';
import { registerInspect } from './inspect.js';
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
    : 'not compiled in (npm run build:cuda)';
  const rows: Array<[string, string]> = [
    ['merclip', info.packageVersion],
    ['node', `${info.nodeVersion} (ABI ${info.nodeAbi}, N-API ${info.napiVersion})`],
    ['addon', `${info.addonPath} (binding API v${info.bindingApiVersion})`],
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

export function buildProgram(out: (s: string) => void): Command {
  const program = new Command();
  program
    .name('merclip')
    .description('Multimodal emotion recognition (MER-CLIP) with a native CPU/CUDA backend')
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: (s) => process.stderr.write(s) });
  program
    .command('info')
    .description('print version, addon build, SIMD level, threads and CUDA status')
    .option('--json', 'print as JSON')
    .action((opts: { json?: boolean }) => {
      const info = backend.info();
      out(opts.json ? JSON.stringify(info, null, 2) + '\n' : formatInfo(info) + '\n');
    });
  registerDemo(program, out);
  registerTrain(program, out);
  registerEval(program, out);
  registerPredict(program, out);
  registerSynth(program, out);
  registerInspect(program, out);
  registerTokenize(program, out);
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
    process.stderr.write(`merclip: ${(err as Error).message.split('\n').join('\n  ')}\n`);
    return 1;
  }
}
