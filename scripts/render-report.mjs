#!/usr/bin/env node
// scripts/render-report.mjs — regenerates DIR/report.html (needs `npm run build:ts` first) and,
// with --png FILE, screenshots it with headless Chromium to look at the page:
//   node scripts/render-report.mjs RUN_DIR [--png out.png] [--width 1200] [--height 2600]
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const { writeReport } = await import(new URL('../dist/train/report.js', import.meta.url).href);

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const png = opt('--png');
const width = opt('--width', '1200');
const height = opt('--height', '2600');
const dir = args[0];
if (!dir) {
  console.error('usage: node scripts/render-report.mjs RUN_DIR [--png out.png] [--width W] [--height H]');
  process.exit(2);
}
const page = await writeReport(dir);
console.log(page);
if (png) {
  const browser = ['chromium', 'chromium-browser', 'google-chrome'].map((b) => ['/usr/bin/' + b, b]).flat().find((b) => b.startsWith('/') ? existsSync(b) : false);
  if (!browser) {
    console.error('no chromium found (apt-get install chromium)');
    process.exit(1);
  }
  execFileSync(browser, ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--screenshot=${resolve(png)}`, `--window-size=${width},${height}`, pathToFileURL(page).href], { stdio: 'inherit' });
  console.log(resolve(png));
}
