// The training report page (lib/train/report.ts): structure of the rendered HTML from hand-made
// records (one polyline per run of finite values with one point per epoch, NaN as gaps and "–",
// 49 confusion cells with their counts, escaping, nothing fetched), the writeReport round trip, and
// the errors for a missing or malformed metrics.jsonl.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import type { RegressionMetrics } from '../../lib/eval/metrics.js';
import {
  epochAxis,
  niceAxis,
  parseMetricsJsonl,
  readReportData,
  renderReport,
  segments,
  writeReport,
  type ReportEpoch,
  type ReportSummary,
} from '../../lib/train/report.js';

const CLASSES = ['highly negative', 'negative', 'weakly negative', 'neutral', 'weakly positive', 'positive', 'highly positive'];

function metrics(i: number, over: Partial<RegressionMetrics> = {}): RegressionMetrics {
  return { mae: 1.2 - 0.1 * i, corr: 0.3 + 0.05 * i, acc7: 0.2 + 0.02 * i, acc5: 0.25 + 0.02 * i, acc2Has0: 0.6 + 0.03 * i, f1Has0: 0.58 + 0.03 * i, acc2Non0: 0.62 + 0.03 * i, f1Non0: 0.6 + 0.03 * i, count: 32, countNon0: 30, ...over };
}

function epoch(e: number, withTest = true, over: Partial<ReportEpoch> = {}): ReportEpoch {
  return {
    epoch: e, step: 4 * e, trainLoss: 3 - 0.4 * e, validLoss: [0, 2.8, 2.3, 2.1, 2.2][e] ?? 2.5, valid: metrics(e),
    ...(withTest ? { testLoss: 2.5 - 0.2 * e, test: metrics(e + 1) } : {}),
    lr: 1e-3 / e, seconds: 1.5, samplesPerSec: 40 + e, ...over,
  };
}

/** A confusion matrix whose counts are distinct (10 + 7i + j), so each can be found in the page. */
const CONFUSION = Array.from({ length: 7 }, (_, i) => Array.from({ length: 7 }, (_, j) => 100 + 7 * i + j));

function summary(over: Partial<ReportSummary> = {}): ReportSummary {
  return { bestEpoch: 3, bestValidLoss: 2.1, test: metrics(4), confusion: CONFUSION, classes: CLASSES, ...over };
}

/** The `points` attribute of every polyline of one series. */
function polylines(html: string, series: string): string[][] {
  const re = new RegExp(`<polyline class="series" data-series="${series}" points="([^"]*)"`, 'g');
  return [...html.matchAll(re)].map((m) => m[1]!.split(' '));
}

/** The SVG element with this id. */
function svgById(html: string, id: string): string {
  const start = html.indexOf(`<svg class="chart" id="${id}"`);
  expect(start).toBeGreaterThanOrEqual(0);
  return html.slice(start, html.indexOf('</svg>', start) + 6);
}

describe('renderReport', () => {
  const epochs = [1, 2, 3, 4].map((e) => epoch(e));
  const html = renderReport({ dir: '/runs/mosi-1', epochs, summary: summary() });

  it('is one self-contained HTML page: no scripts, links, external URLs', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<title>merclip training report: mosi-1</title>');
    expect(html).toContain('/runs/mosi-1');
    expect(html).not.toMatch(/http|<script|<link|<img|@import|url\(/i);
    expect(html).toContain('<style>');
  });

  it('has the summary with the best epoch and the paper-format test table', () => {
    expect(html).toContain('<dd>3 of 4</dd>');
    for (const h of ['Acc-2 (has0/non0)', 'F1 (has0/non0)', 'Acc-7', 'Acc-5', 'MAE', 'Corr']) expect(html).toContain(`<th>${h}</th>`);
    // summary.test = metrics(4): acc2 72.0/74.0, f1 70.0/72.0, acc7 28.0, acc5 33.0, mae 0.800, corr 0.500
    expect(html).toMatch(/<table class="paper">.*<td>72\.0\/74\.0<\/td><td>70\.0\/72\.0<\/td><td>28\.0<\/td><td>33\.0<\/td><td>0\.800<\/td><td>0\.500<\/td>/s);
  });

  it('draws one polyline per loss series with one point per epoch, a legend, axes and the best epoch', () => {
    const loss = svgById(html, 'loss-chart');
    for (const s of ['train loss', 'valid loss', 'test loss']) {
      const lines = polylines(loss, s);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toHaveLength(4);
      expect(loss).toContain(`>${s}</text>`); // legend
    }
    expect(loss.match(/<circle class="pt"/g)).toHaveLength(12);
    expect(loss).toContain('class="x-axis"');
    expect(loss).toContain('class="y-axis"');
    expect(loss).toContain('>epoch</text>');
    expect(loss).toContain('>loss</text>');
    for (const t of ['1', '2', '3', '4']) expect(loss).toContain(`>${t}</text>`);
    expect(loss).toContain('class="best-marker"');
    // train loss falls: its y coordinate (SVG y grows downwards) rises
    const ys = polylines(loss, 'train loss')[0]!.map((p) => Number(p.split(',')[1]));
    expect(ys).toEqual([...ys].sort((a, b) => a - b));
  });

  it('draws the valid metrics: accuracies/F1 in % on one chart, MAE and Corr on their own', () => {
    const acc = svgById(html, 'acc-chart');
    for (const s of ['Acc-2 has0', 'Acc-2 non0', 'F1 has0', 'F1 non0', 'Acc-7', 'Acc-5']) expect(polylines(acc, s)[0]).toHaveLength(4);
    expect(acc).toContain('>%</text>');
    expect(polylines(svgById(html, 'mae-chart'), 'MAE')[0]).toHaveLength(4);
    expect(polylines(svgById(html, 'corr-chart'), 'Corr')[0]).toHaveLength(4);
  });

  it('draws the confusion matrix: 49 cells with their counts, class names on both axes', () => {
    const cells = [...html.matchAll(/<g class="cell" data-true="(\d)" data-pred="(\d)">.*?<text[^>]*>(\d+)<\/text>/g)];
    expect(cells).toHaveLength(49);
    for (const [, i, j, n] of cells) expect(Number(n)).toBe(CONFUSION[Number(i)]![Number(j)]);
    const conf = html.slice(html.indexOf('<svg class="confusion"'));
    expect(conf.match(/class="class-label row-label"/g)).toHaveLength(7);
    expect(conf.match(/class="class-label col-label"/g)).toHaveLength(7);
    expect(conf).toContain('>highly negative<title>');
    expect(conf).toContain('>predicted class</text>');
    expect(conf).toContain('>true class</text>');
  });

  it('has a per-epoch table with the best epoch marked', () => {
    const tables = html.match(/<table class="epochs">.*?<\/table>/gs)!;
    expect(tables).toHaveLength(2); // valid metrics, and test metrics in <details>
    for (const table of tables) {
      expect(table.match(/<tr class="best"/g)).toHaveLength(1);
      expect(table).toContain('<td>3 ★</td>');
      expect(table.match(/<tr/g)).toHaveLength(5); // header + 4 epochs
    }
    expect(tables[0]).toContain('<th>test loss</th>');
  });

  it('escapes every string from the files', () => {
    const evil = '<script>alert("x")</script>&';
    const page = renderReport({ dir: `/tmp/${evil}`, epochs: [epoch(1)], summary: summary({ bestEpoch: 1, bestValidLoss: 2.8, classes: [evil, ...CLASSES.slice(1)] }) });
    expect(page).not.toContain('<script>');
    expect(page).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;');
  });

  it('handles a single epoch: one point per series, a tick for it', () => {
    const page = renderReport({ dir: 'one', epochs: [epoch(1)], summary: null });
    const loss = svgById(page, 'loss-chart');
    for (const s of ['train loss', 'valid loss', 'test loss']) expect(polylines(loss, s)).toEqual([[expect.stringMatching(/^[\d.]+,[\d.]+$/)]]);
    expect(loss.match(/<circle class="pt"/g)).toHaveLength(3);
    expect(page).toContain('<dd>1 of 1</dd>');
    expect(page).not.toMatch(/NaN|Infinity|undefined/);
  });

  it('draws NaN values as gaps and prints them as "–"', () => {
    const eps = [1, 2, 3, 4, 5].map((e) => epoch(e, false, e === 3 ? { valid: metrics(e, { corr: NaN }) } : {}));
    const page = renderReport({ dir: 'gaps', epochs: eps });
    const corr = polylines(svgById(page, 'corr-chart'), 'Corr');
    expect(corr.map((l) => l.length)).toEqual([2, 2]);
    expect(page).not.toMatch(/NaN|undefined/);
    expect(page).toMatch(/<td>–<\/td><td>1\.5<\/td>/); // epoch 3's Corr cell, before time (s)
    // no test split: the summary shows valid metrics, no test loss series, no confusion matrix
    expect(page).toContain('the run has no test split');
    expect(polylines(page, 'test loss')).toHaveLength(0);
    expect(page).not.toContain('<g class="cell"');
    // a series with no finite value at all
    const allNaN = renderReport({ dir: 'x', epochs: [1, 2].map((e) => epoch(e, false, { valid: metrics(e, { corr: NaN }) })) });
    expect(polylines(svgById(allNaN, 'corr-chart'), 'Corr')).toHaveLength(0);
    expect(svgById(allNaN, 'corr-chart')).toContain('no finite values');
  });

  it('ignores a test_metrics.json that does not match metrics.jsonl (left from an earlier run)', () => {
    const page = renderReport({ dir: 'stale', epochs: [epoch(1), epoch(2)], summary: summary({ bestEpoch: 7 }) });
    expect(page).toContain('looks left over from an earlier run');
    expect(page).not.toContain('<g class="cell"');
    expect(page).toContain('<dd>2 of 2</dd>'); // lowest valid loss
  });
});

describe('scales and ticks', () => {
  it('niceAxis covers the range with 1/2/5 steps', () => {
    expect(niceAxis(0.53, 2.97)).toEqual({ lo: 0.5, hi: 3, ticks: [0.5, 1, 1.5, 2, 2.5, 3], decimals: 1 });
    expect(niceAxis(18, 83, 5, [0, 100]).ticks).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceAxis(2, 2).ticks.length).toBeGreaterThan(1);
    expect(niceAxis(NaN, NaN).ticks).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });
  it('epochAxis gives integer ticks, not crowded', () => {
    expect(epochAxis([1]).ticks).toEqual([1]);
    expect(epochAxis([1, 2, 3, 4]).ticks).toEqual([1, 2, 3, 4]);
    expect(epochAxis(Array.from({ length: 12 }, (_, i) => i + 1), 4).ticks).toEqual([1, 5, 10]);
    expect(epochAxis(Array.from({ length: 100 }, (_, i) => i + 1)).ticks).toEqual([1, 20, 40, 60, 80, 100]);
  });
  it('segments split at non-finite values', () => {
    expect(segments([1, 2, 3, 4, 5], [1, NaN, 3, 4, null as unknown as number])).toEqual([[[1, 1]], [[3, 3], [4, 4]]]);
  });
});

describe('writeReport / metrics.jsonl', () => {
  const dirs: string[] = [];
  const tempDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'merclip-report-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('writes report.html from the files (NaN written as null reads back as a gap), atomically', async () => {
    const dir = tempDir();
    const eps = [1, 2, 3].map((e) => epoch(e, true, e === 2 ? { valid: metrics(e, { corr: NaN }) } : {}));
    writeFileSync(join(dir, 'metrics.jsonl'), eps.map((e) => JSON.stringify(e)).join('\n') + '\n');
    writeFileSync(join(dir, 'test_metrics.json'), JSON.stringify(summary(), null, 2));
    const path = await writeReport(dir);
    expect(path).toBe(join(dir, 'report.html'));
    expect(readdirSync(dir).sort()).toEqual(['metrics.jsonl', 'report.html', 'test_metrics.json']); // no temp file left
    const page = readFileSync(path, 'utf8');
    expect(page).toContain(`<p class="path">${dir}</p>`);
    expect(page.match(/<g class="cell"/g)).toHaveLength(49);
    expect(polylines(svgById(page, 'corr-chart'), 'Corr').map((l) => l.length)).toEqual([1, 1]);
    expect(polylines(svgById(page, 'loss-chart'), 'valid loss')[0]).toHaveLength(3);
    const data = await readReportData(dir);
    expect(data.epochs[1]!.valid.corr).toBeNaN();
    expect(data.summary!.bestEpoch).toBe(3);
    // regenerating replaces the page
    writeFileSync(join(dir, 'metrics.jsonl'), eps.slice(0, 1).map((e) => JSON.stringify(e)).join('\n') + '\n');
    await writeReport(dir);
    expect(readFileSync(path, 'utf8')).toContain('1 epoch from metrics.jsonl;');
  });

  it('keeps the last record of a repeated epoch (a resumed run) and sorts by epoch', () => {
    const lines = [epoch(1), epoch(2), epoch(2, true, { trainLoss: 9 }), epoch(3)].map((e) => JSON.stringify(e)).join('\n');
    const eps = parseMetricsJsonl(lines, 'm.jsonl');
    expect(eps.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(eps[1]!.trainLoss).toBe(9);
  });

  it('names the file when metrics.jsonl is missing', async () => {
    const dir = tempDir();
    await expect(writeReport(dir)).rejects.toThrow(`${join(dir, 'metrics.jsonl')}: not found`);
  });

  it('names the file and line of a malformed record', async () => {
    const dir = tempDir();
    const file = join(dir, 'metrics.jsonl');
    const good = JSON.stringify(epoch(1));
    writeFileSync(file, `${good}\n{"epoch": 2, "trainLoss": 1,\n`);
    await expect(writeReport(dir)).rejects.toThrow(`${file}:2: not valid JSON`);
    writeFileSync(file, `${good}\n\n${JSON.stringify({ ...epoch(2), validLoss: 'low' })}\n`);
    await expect(writeReport(dir)).rejects.toThrow(`${file}:3: "validLoss" must be a number (got the string "low")`);
    writeFileSync(file, `${JSON.stringify({ ...epoch(1), valid: { ...metrics(1), acc7: undefined } })}\n`);
    await expect(writeReport(dir)).rejects.toThrow(`${file}:1: "valid": "acc7" must be a number`);
    writeFileSync(file, `${JSON.stringify({ ...epoch(1), epoch: 0 })}\n`);
    await expect(writeReport(dir)).rejects.toThrow(`${file}:1: "epoch" must be a positive integer`);
    writeFileSync(file, '[1, 2]\n');
    await expect(writeReport(dir)).rejects.toThrow(`${file}:1: a record must be a JSON object`);
    writeFileSync(file, '\n');
    await expect(writeReport(dir)).rejects.toThrow(`${file}: no epoch records`);
    expect(readdirSync(dir)).toEqual(['metrics.jsonl']); // nothing written
  });

  it('names test_metrics.json when it is malformed', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'metrics.jsonl'), JSON.stringify(epoch(1)) + '\n');
    writeFileSync(join(dir, 'test_metrics.json'), JSON.stringify(summary({ confusion: [[1, 2], [3]] })));
    await expect(writeReport(dir)).rejects.toThrow(`${join(dir, 'test_metrics.json')}: "confusion" must be a square matrix`);
    writeFileSync(join(dir, 'test_metrics.json'), '{');
    await expect(writeReport(dir)).rejects.toThrow(`${join(dir, 'test_metrics.json')}: not valid JSON`);
  });
});

describe('merclip report', () => {
  it('regenerates report.html and prints its path', async () => {
    const { Command } = await import('commander');
    const { registerReport } = await import('../../lib/cli/report.js');
    const dir = mkdtempSync(join(tmpdir(), 'merclip-report-cli-'));
    try {
      writeFileSync(join(dir, 'metrics.jsonl'), JSON.stringify(epoch(1)) + '\n');
      let printed = '';
      const program = new Command().exitOverride();
      registerReport(program, (s) => { printed += s; });
      await program.parseAsync(['node', 'merclip', 'report', dir]);
      expect(printed).toBe(`${join(dir, 'report.html')}\n`);
      expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain('<svg class="chart" id="loss-chart"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
