// lib/cli/bench.ts — `merclip bench [suite…]`: the benchmarks of a source checkout (bench/, run
// with tsx as `npm run bench` does). An installed package ships no bench/ sources; the command
// then says where to get them instead of failing obscurely.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import type { Command } from 'commander';

import { packageRoot } from '../backend/load.js';

export function registerBench(program: Command, out: (s: string) => void): void {
  program
    .command('bench')
    .description('run the benchmarks (gemm, ops, cosine, attention, nn, model) of a source checkout')
    .argument('[suites...]', 'suites to run (default: all)')
    .action((suites: string[]) => {
      const root = packageRoot();
      const script = join(root, 'bench', 'run.ts');
      if (!existsSync(script)) {
        throw new Error(`the benchmarks are not part of the installed package; in a clone of the repository run \`npm install && npm run bench\``);
      }
      let tsx: string;
      try {
        tsx = createRequire(join(root, 'package.json')).resolve('tsx');
      } catch {
        throw new Error('the benchmarks need the dev dependency tsx: run `npm install` in the repository');
      }
      void tsx;
      out(`running ${script}${suites.length ? ` (${suites.join(', ')})` : ''}\n`);
      const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...suites], { cwd: root, stdio: 'inherit' });
      if (r.status !== 0) throw new Error(`bench exited with status ${r.status ?? r.signal}`);
    });
}
