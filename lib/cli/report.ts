// lib/cli/report.ts — `merclip report DIR`: regenerates DIR/report.html (the training report:
// loss curves, valid metrics per epoch, the confusion matrix at the best epoch) from
// DIR/metrics.jsonl and DIR/test_metrics.json, and prints the page's path.
import type { Command } from 'commander';

import { writeReport } from '../train/report.js';

export function registerReport(program: Command, out: (s: string) => void): void {
  program
    .command('report')
    .description('regenerate report.html (loss curves, metrics, confusion matrix) in a `merclip train` output directory')
    .argument('<dir>', 'the training output directory (with metrics.jsonl)')
    .action(async (dir: string) => {
      const path = await writeReport(dir);
      out(`${path}\n`);
    });
}
