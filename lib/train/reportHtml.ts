// lib/train/reportHtml.ts — the training report page (see report.ts, which reads the run
// directory): one self-contained HTML page, inline CSS and inline SVG only — the summary and the
// paper-format test table, loss curves, valid metrics per epoch (NaN drawn as gaps, shown "–"),
// the per-epoch tables and the confusion matrix at the best epoch as a heat map. Every string from
// the files is HTML-escaped.

import { basename } from 'node:path';

import { formatValue, type MetricField, type RegressionMetrics } from '../eval/metrics.js';
import { METRICS_FILE, type ReportData, type ReportEpoch, type ReportSummary, TEST_METRICS_FILE } from './types.js';

// ---------------------------------------------------------------------------------------------
// Formatting

/** HTML-escapes text for element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}
const esc = escapeHtml;

const DASH = '–';

function fmtMetric(field: MetricField, v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? DASH : formatValue(field, v);
}

function fmtNum(v: number | undefined, digits: number): string {
  return v === undefined || !Number.isFinite(v) ? DASH : v.toFixed(digits);
}

function fmtLr(v: number): string {
  return Number.isFinite(v) ? v.toExponential(2) : DASH;
}

/** Coordinates with two decimals (short, and plenty for screen pixels). */
function px(v: number): string {
  return String(Math.round(v * 100) / 100);
}

// ---------------------------------------------------------------------------------------------
// Scales and ticks

export type Scale = (v: number) => number;

/** Maps [d0, d1] linearly onto [r0, r1]. */
export function linearScale(d0: number, d1: number, r0: number, r1: number): Scale {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

/** A 1, 2 or 5 × 10^k step that splits `span` into about `count` intervals. */
export function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

export interface Axis {
  lo: number;
  hi: number;
  ticks: number[];
  /** Decimals the tick labels need. */
  decimals: number;
}

/**
 * A domain covering [lo, hi] rounded out to tick steps, and its ticks. A flat range is padded;
 * `clamp` bounds the result (e.g. [0, 100] for percentages).
 */
export function niceAxis(lo: number, hi: number, count = 5, clamp?: [number, number]): Axis {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (hi - lo < 1e-12) {
    const pad = Math.abs(lo) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  const step = niceStep(hi - lo, count);
  let a = Math.floor(lo / step + 1e-9) * step;
  let b = Math.ceil(hi / step - 1e-9) * step;
  if (clamp) {
    a = Math.max(a, clamp[0]);
    b = Math.min(b, clamp[1]);
  }
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const ticks: number[] = [];
  for (let i = 0; ; i++) {
    const t = Number((Math.ceil(a / step - 1e-9) * step + i * step).toFixed(decimals + 2));
    if (t > b + step * 1e-6) break;
    ticks.push(t);
  }
  return { lo: a, hi: b, ticks, decimals };
}

/**
 * Epoch axis: integer ticks at multiples of a 1/2/5 step (about `count` of them), plus the first
 * epoch when it is not crowded by the next tick; a single epoch sits in the middle.
 */
export function epochAxis(epochs: readonly number[], count = 8): Axis {
  const first = epochs[0] ?? 1;
  const last = epochs[epochs.length - 1] ?? 1;
  if (last === first) return { lo: first - 1, hi: first + 1, ticks: [first], decimals: 0 };
  const step = Math.max(1, Math.round(niceStep(last - first, count)));
  const ticks: number[] = [];
  for (let t = Math.ceil(first / step) * step; t <= last; t += step) ticks.push(t);
  if (ticks[0] !== first && (ticks.length === 0 || ticks[0]! - first >= 0.75 * step)) ticks.unshift(first);
  return { lo: first, hi: last, ticks, decimals: 0 };
}

function finiteRange(values: readonly number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

// ---------------------------------------------------------------------------------------------
// SVG pieces

interface Series {
  name: string;
  color: string;
  /** stroke-dasharray, for a second series in the same colour. */
  dash?: string;
  /** One value per epoch (NaN: a gap). */
  values: number[];
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** Splits a series at non-finite values into runs of [x, y] points. */
export function segments(xs: readonly number[], ys: readonly number[]): Array<Array<[number, number]>> {
  const out: Array<Array<[number, number]>> = [];
  let cur: Array<[number, number]> = [];
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i];
    if (y !== undefined && Number.isFinite(y)) cur.push([xs[i]!, y]);
    else if (cur.length) {
      out.push(cur);
      cur = [];
    }
  }
  if (cur.length) out.push(cur);
  return out;
}

function yAxisSvg(axis: Axis, y: Scale, f: Frame, label: string): string {
  const parts = axis.ticks.map((t) => {
    const yy = px(y(t));
    return `<line class="grid" x1="${f.left}" x2="${f.width - f.right}" y1="${yy}" y2="${yy}"/>`
      + `<text class="tick" x="${f.left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${t.toFixed(axis.decimals)}</text>`;
  });
  const mid = (f.top + f.height - f.bottom) / 2;
  parts.push(`<text class="axis-label" transform="translate(14 ${px(mid)}) rotate(-90)" text-anchor="middle">${esc(label)}</text>`);
  return `<g class="y-axis">${parts.join('')}</g>`;
}

function xAxisSvg(axis: Axis, x: Scale, f: Frame, label: string): string {
  const y0 = f.height - f.bottom;
  const parts = [`<line class="axis" x1="${f.left}" x2="${f.width - f.right}" y1="${y0}" y2="${y0}"/>`];
  for (const t of axis.ticks) {
    const xx = px(x(t));
    parts.push(`<line class="axis" x1="${xx}" x2="${xx}" y1="${y0}" y2="${y0 + 5}"/><text class="tick" x="${xx}" y="${y0 + 18}" text-anchor="middle">${t}</text>`);
  }
  parts.push(`<text class="axis-label" x="${px((f.left + f.width - f.right) / 2)}" y="${f.height - 6}" text-anchor="middle">${esc(label)}</text>`);
  return `<g class="x-axis">${parts.join('')}</g>`;
}

function seriesSvg(s: Series, xs: readonly number[], x: Scale, y: Scale): string {
  const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
  const parts: string[] = [];
  for (const seg of segments(xs, s.values)) {
    const points = seg.map(([a, b]) => `${px(x(a))},${px(y(b))}`).join(' ');
    parts.push(`<polyline class="series" data-series="${esc(s.name)}" points="${points}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    for (const [a, b] of seg) parts.push(`<circle class="pt" cx="${px(x(a))}" cy="${px(y(b))}" r="3" fill="${s.color}"><title>${esc(s.name)}, epoch ${a}: ${b.toPrecision(4)}</title></circle>`);
  }
  return `<g class="line">${parts.join('')}</g>`;
}

/** Legend swatches in a row along the top margin (width estimated from the text). */
function legendSvg(series: readonly Series[], f: Frame): string {
  let xx = f.left;
  const y0 = 14;
  const parts = series.map((s) => {
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    const item = `<g class="legend-item"><line x1="${xx}" x2="${xx + 22}" y1="${y0}" y2="${y0}" stroke="${s.color}" stroke-width="2.5"${dash}/>`
      + `<circle cx="${xx + 11}" cy="${y0}" r="3" fill="${s.color}"/>`
      + `<text class="legend" x="${xx + 28}" y="${y0}" dominant-baseline="middle">${esc(s.name)}</text></g>`;
    xx += 28 + s.name.length * 7 + 18;
    return item;
  });
  return `<g class="legend">${parts.join('')}</g>`;
}

function bestMarkerSvg(best: number | null, x: Scale, f: Frame): string {
  if (best === null) return '';
  const xx = px(x(best));
  const right = x(best) > f.width - f.right - 60;
  // the label sits in the top margin, under the legend, where no data is drawn
  return `<g class="best-marker"><line x1="${xx}" x2="${xx}" y1="${f.top - 4}" y2="${f.height - f.bottom}" stroke="#6b7280" stroke-width="1.2" stroke-dasharray="4 3"/>`
    + `<text class="best-label" x="${right ? Number(xx) - 4 : Number(xx) + 4}" y="${f.top - 6}" text-anchor="${right ? 'end' : 'start'}">best</text></g>`;
}

interface ChartSpec {
  id: string;
  title: string;
  width: number;
  height: number;
  epochs: number[];
  series: Series[];
  yLabel: string;
  /** Bounds for the y axis (e.g. [0, 100] for percentages). */
  clamp?: [number, number];
  best: number | null;
}

/** A line chart: axes with ticks and labels, one polyline per run of finite values, a legend. */
function lineChart(spec: ChartSpec): string {
  const f: Frame = { width: spec.width, height: spec.height, left: 62, right: 18, top: 44, bottom: 42 };
  const xAxis = epochAxis(spec.epochs, Math.max(2, Math.floor((spec.width - 80) / 70)));
  const [lo, hi] = finiteRange(spec.series.flatMap((s) => s.values));
  const yAxis = niceAxis(lo, hi, 5, spec.clamp);
  const pad = 12; // keeps the first and last points off the frame
  const x = linearScale(xAxis.lo, xAxis.hi, f.left + pad, f.width - f.right - pad);
  const y = linearScale(yAxis.lo, yAxis.hi, f.height - f.bottom, f.top);
  const empty = Number.isFinite(lo) ? '' : `<text class="empty" x="${px((f.left + f.width - f.right) / 2)}" y="${px((f.top + f.height - f.bottom) / 2)}" text-anchor="middle">no finite values</text>`;
  return `<svg class="chart" id="${spec.id}" width="${spec.width}" height="${spec.height}" viewBox="0 0 ${spec.width} ${spec.height}" role="img" aria-label="${esc(spec.title)}">`
    + `<title>${esc(spec.title)}</title>`
    + yAxisSvg(yAxis, y, f, spec.yLabel)
    + xAxisSvg(xAxis, x, f, 'epoch')
    + bestMarkerSvg(spec.best, x, f)
    + spec.series.map((s) => seriesSvg(s, spec.epochs, x, y)).join('')
    + legendSvg(spec.series, f)
    + empty
    + '</svg>';
}

// ---------------------------------------------------------------------------------------------
// Confusion matrix heat map

/** Greedy word wrap to lines of at most `max` characters (a longer word gets its own line). */
function wrapWords(s: string, max: number): string[] {
  const lines: string[] = [];
  for (const word of s.split(/\s+/).filter(Boolean)) {
    const last = lines[lines.length - 1];
    if (last !== undefined && last.length + 1 + word.length <= max) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  return lines.length ? lines : [''];
}

function truncate(s: string, max: number): string {
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

/** White → dark blue; t in [0, 1]. */
function heatColor(t: number): string {
  const from = [255, 255, 255];
  const to = [30, 64, 175];
  const c = from.map((a, i) => Math.round(a + (to[i]! - a) * t));
  return `rgb(${c.join(',')})`;
}

function confusionSvg(matrix: number[][], classes: readonly string[]): string {
  const k = matrix.length;
  const cell = 64;
  const charW = 6.6; // ~12 px sans-serif
  const names = classes.map((c) => truncate(c, 24));
  const left = 34 + Math.ceil(Math.max(...names.map((n) => n.length)) * charW) + 10;
  const colLines = names.map((n) => wrapWords(n, 9).slice(0, 3));
  const top = 30;
  const gridW = k * cell;
  const bottom = 16 + Math.max(...colLines.map((l) => l.length)) * 14 + 24;
  const totalW = 56;
  const width = left + gridW + totalW;
  const height = top + gridW + bottom;
  const max = Math.max(1, ...matrix.flat());
  const parts: string[] = [];
  matrix.forEach((row, i) => {
    row.forEach((n, j) => {
      const t = n / max;
      const xx = left + j * cell;
      const yy = top + i * cell;
      parts.push(`<g class="cell" data-true="${i}" data-pred="${j}"><rect x="${xx}" y="${yy}" width="${cell}" height="${cell}" fill="${heatColor(t)}"/>`
        + `<text x="${xx + cell / 2}" y="${yy + cell / 2}" text-anchor="middle" dominant-baseline="central" fill="${t > 0.5 ? '#ffffff' : '#111827'}">${n}</text>`
        + `<title>true ${esc(classes[i] ?? '')}, predicted ${esc(classes[j] ?? '')}: ${n}</title></g>`);
    });
    const rowSum = row.reduce((a, b) => a + b, 0);
    parts.push(`<text class="row-total" x="${left + gridW + 10}" y="${top + i * cell + cell / 2}" dominant-baseline="central">${rowSum}</text>`);
  });
  for (let i = 0; i < k; i++) parts.push(`<rect class="diag" x="${left + i * cell}" y="${top + i * cell}" width="${cell}" height="${cell}" fill="none"/>`);
  parts.push(`<text class="tick" x="${left + gridW + 10}" y="${top - 10}">total</text>`);
  names.forEach((n, i) => {
    parts.push(`<text class="class-label row-label" x="${left - 8}" y="${top + i * cell + cell / 2}" text-anchor="end" dominant-baseline="central">${esc(n)}<title>${esc(classes[i] ?? '')}</title></text>`);
    const cx = left + i * cell + cell / 2;
    const lines = colLines[i]!.map((l, li) => `<tspan x="${cx}" dy="${li === 0 ? 0 : 14}">${esc(l)}</tspan>`).join('');
    parts.push(`<text class="class-label col-label" x="${cx}" y="${top + gridW + 18}" text-anchor="middle">${lines}<title>${esc(classes[i] ?? '')}</title></text>`);
  });
  parts.push(`<rect x="${left}" y="${top}" width="${gridW}" height="${gridW}" fill="none" stroke="#9ca3af"/>`);
  parts.push(`<text class="axis-label" x="${left + gridW / 2}" y="${height - 8}" text-anchor="middle">predicted class</text>`);
  parts.push(`<text class="axis-label" transform="translate(16 ${top + gridW / 2}) rotate(-90)" text-anchor="middle">true class</text>`);
  return `<svg class="confusion" id="confusion" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="confusion matrix">`
    + `<title>Confusion matrix at the best epoch</title>${parts.join('')}</svg>`;
}

// ---------------------------------------------------------------------------------------------
// Page sections

const COLORS = { train: '#2563eb', valid: '#ea580c', test: '#059669', acc2: '#2563eb', f1: '#ea580c', acc7: '#059669', acc5: '#9333ea', mae: '#b91c1c', corr: '#0e7490' };

/** The best epoch: test_metrics.json's when it belongs to these records, else the lowest valid loss. */
export function bestEpochOf(epochs: readonly ReportEpoch[], summary?: ReportSummary | null): number | null {
  if (summary && epochs.some((e) => e.epoch === summary.bestEpoch)) return summary.bestEpoch;
  let best: ReportEpoch | null = null;
  for (const e of epochs) if (Number.isFinite(e.validLoss) && (best === null || e.validLoss < best.validLoss)) best = e;
  return best?.epoch ?? null;
}

/** test_metrics.json agrees with metrics.jsonl (a stale file from an earlier run does not). */
function summaryMatches(epochs: readonly ReportEpoch[], s: ReportSummary): boolean {
  const rec = epochs.find((e) => e.epoch === s.bestEpoch);
  return rec !== undefined && (rec.validLoss === s.bestValidLoss || (Number.isNaN(rec.validLoss) && Number.isNaN(s.bestValidLoss)));
}

function metricCells(m: RegressionMetrics | undefined): string[] {
  const v = (f: MetricField): string => fmtMetric(f, m?.[f]);
  return [`${v('acc2Has0')}/${v('acc2Non0')}`, `${v('f1Has0')}/${v('f1Non0')}`, v('acc7'), v('acc5'), v('mae'), v('corr')];
}

const PAPER_HEADERS = ['Acc-2 (has0/non0)', 'F1 (has0/non0)', 'Acc-7', 'Acc-5', 'MAE', 'Corr'];

function paperTable(m: RegressionMetrics, caption: string): string {
  return `<table class="paper"><caption>${esc(caption)}</caption><thead><tr>${PAPER_HEADERS.map((h) => `<th>${h}</th>`).join('')}</tr></thead>`
    + `<tbody><tr>${metricCells(m).map((c) => `<td>${c}</td>`).join('')}</tr></tbody></table>`;
}

function summarySection(data: ReportData, best: number | null, summary: ReportSummary | null): string {
  const epochs = data.epochs;
  const bestRec = epochs.find((e) => e.epoch === best);
  const last = epochs[epochs.length - 1]!;
  const totalSec = epochs.reduce((s, e) => s + (Number.isFinite(e.seconds) ? e.seconds : 0), 0);
  const sps = epochs.map((e) => e.samplesPerSec).filter(Number.isFinite);
  const facts: Array<[string, string]> = [
    ['best epoch', best === null ? DASH : `${best} of ${epochs.length}`],
    ['best valid loss', fmtNum(bestRec?.validLoss, 4)],
    ['last train loss', fmtNum(last.trainLoss, 4)],
    ['last step', fmtNum(last.step, 0)],
    ['training time', `${totalSec.toFixed(1)} s`],
    ['samples/s (mean)', sps.length ? (sps.reduce((a, b) => a + b, 0) / sps.length).toFixed(0) : DASH],
  ];
  const dl = `<dl class="facts">${facts.map(([k, v]) => `<div><dt>${k}</dt><dd>${v}</dd></div>`).join('')}</dl>`;
  let table: string;
  const test = summary?.test ?? bestRec?.test;
  if (test) {
    const n = Number.isFinite(test.count) ? `, ${test.count} samples${Number.isFinite(test.countNon0) ? ` (${test.countNon0} non-zero)` : ''}` : '';
    table = paperTable(test, `Test metrics at the best epoch (${best ?? DASH})${n}`);
  } else if (bestRec) {
    table = paperTable(bestRec.valid, `Valid metrics at the best epoch (${best}); the run has no test split`);
  } else {
    table = '<p class="note">No epoch has a finite valid loss.</p>';
  }
  return `<section id="summary"><h2>Summary</h2>${dl}${table}</section>`;
}

function lossSection(epochs: readonly ReportEpoch[], best: number | null): string {
  const xs = epochs.map((e) => e.epoch);
  const series: Series[] = [
    { name: 'train loss', color: COLORS.train, values: epochs.map((e) => e.trainLoss) },
    { name: 'valid loss', color: COLORS.valid, values: epochs.map((e) => e.validLoss) },
  ];
  if (epochs.some((e) => e.testLoss !== undefined)) series.push({ name: 'test loss', color: COLORS.test, values: epochs.map((e) => e.testLoss ?? NaN) });
  return `<section id="losses"><h2>Loss</h2>${lineChart({ id: 'loss-chart', title: 'Loss per epoch', width: 1080, height: 320, epochs: xs, series, yLabel: 'loss', best })}</section>`;
}

function validSection(epochs: readonly ReportEpoch[], best: number | null): string {
  const xs = epochs.map((e) => e.epoch);
  const pct = (f: MetricField): number[] => epochs.map((e) => 100 * e.valid[f]);
  const acc: Series[] = [
    { name: 'Acc-2 has0', color: COLORS.acc2, values: pct('acc2Has0') },
    { name: 'Acc-2 non0', color: COLORS.acc2, dash: '6 4', values: pct('acc2Non0') },
    { name: 'F1 has0', color: COLORS.f1, values: pct('f1Has0') },
    { name: 'F1 non0', color: COLORS.f1, dash: '6 4', values: pct('f1Non0') },
    { name: 'Acc-7', color: COLORS.acc7, values: pct('acc7') },
    { name: 'Acc-5', color: COLORS.acc5, values: pct('acc5') },
  ];
  const mae: Series[] = [{ name: 'MAE', color: COLORS.mae, values: epochs.map((e) => e.valid.mae) }];
  const corr: Series[] = [{ name: 'Corr', color: COLORS.corr, values: epochs.map((e) => e.valid.corr) }];
  return `<section id="valid"><h2>Valid metrics per epoch</h2>`
    + lineChart({ id: 'acc-chart', title: 'Valid accuracy and F1 (%)', width: 1080, height: 320, epochs: xs, series: acc, yLabel: '%', clamp: [0, 100], best })
    + `<div class="row">`
    + lineChart({ id: 'mae-chart', title: 'Valid MAE', width: 530, height: 260, epochs: xs, series: mae, yLabel: 'MAE', clamp: [0, Infinity], best })
    + lineChart({ id: 'corr-chart', title: 'Valid Corr', width: 530, height: 260, epochs: xs, series: corr, yLabel: 'Corr', clamp: [-1, 1], best })
    + `</div></section>`;
}

function epochTable(epochs: readonly ReportEpoch[], best: number | null, which: 'valid' | 'test'): string {
  const hasTest = epochs.some((e) => e.testLoss !== undefined);
  const head = which === 'valid'
    ? ['epoch', 'step', 'lr', 'train loss', 'valid loss', ...(hasTest ? ['test loss'] : []), ...PAPER_HEADERS, 'time (s)', 'samples/s']
    : ['epoch', 'test loss', ...PAPER_HEADERS];
  const rows = epochs.map((e) => {
    const m = which === 'valid' ? e.valid : e.test;
    const cells = which === 'valid'
      ? [String(e.epoch), fmtNum(e.step, 0), fmtLr(e.lr), fmtNum(e.trainLoss, 4), fmtNum(e.validLoss, 4), ...(hasTest ? [fmtNum(e.testLoss, 4)] : []), ...metricCells(m), fmtNum(e.seconds, 1), fmtNum(e.samplesPerSec, 0)]
      : [String(e.epoch), fmtNum(e.testLoss, 4), ...metricCells(m)];
    const isBest = e.epoch === best;
    return `<tr${isBest ? ' class="best" title="best epoch (lowest valid loss)"' : ''}>${cells.map((c, i) => `<td>${i === 0 && isBest ? `${c} ★` : c}</td>`).join('')}</tr>`;
  });
  return `<table class="epochs"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function epochsSection(epochs: readonly ReportEpoch[], best: number | null): string {
  const hasTest = epochs.some((e) => e.test !== undefined);
  return `<section id="epochs"><h2>Per epoch</h2><p class="note">Metrics on the valid split; ★ marks the best epoch (lowest valid loss).</p>`
    + `<div class="scroll">${epochTable(epochs, best, 'valid')}</div>`
    + (hasTest ? `<details><summary>Test metrics per epoch</summary><div class="scroll">${epochTable(epochs, best, 'test')}</div></details>` : '')
    + '</section>';
}

function confusionSection(summary: ReportSummary | null, best: number | null): string {
  const body = summary?.confusion
    ? `<p class="note">Test split at the best epoch (${best ?? DASH}): rows are the true class, columns the predicted class (labels and predictions rounded to the 7 sentiment classes); darker cells hold more samples.</p>${confusionSvg(summary.confusion, summary.classes)}`
    : '<p class="note">No confusion matrix: test_metrics.json is written when a run with a test split finishes.</p>';
  return `<section id="confusion-section"><h2>Confusion matrix</h2>${body}</section>`;
}

const CSS = `
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #111827; background: #f9fafb; margin: 0; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; border-bottom: 1px solid #e5e7eb; padding-bottom: 4px; }
.path { color: #4b5563; font-size: 13px; word-break: break-all; margin: 0; }
.note { color: #4b5563; font-size: 13px; margin: 6px 0 10px; }
.warn { color: #92400e; background: #fffbeb; border: 1px solid #fcd34d; padding: 6px 10px; font-size: 13px; }
.facts { display: flex; flex-wrap: wrap; gap: 10px; margin: 0 0 14px; }
.facts div { background: #fff; border: 1px solid #e5e7eb; border-radius: 6px; padding: 6px 12px; }
.facts dt { font-size: 11px; color: #6b7280; text-transform: uppercase; letter-spacing: .04em; }
.facts dd { margin: 2px 0 0; font-size: 17px; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; background: #fff; }
caption { text-align: left; font-size: 13px; color: #374151; padding: 0 0 6px; }
th, td { border: 1px solid #e5e7eb; padding: 4px 7px; text-align: right; font-size: 13px; white-space: nowrap; }
th { background: #f3f4f6; font-weight: 600; }
table.paper td { font-size: 16px; padding: 6px 14px; }
tr.best td { background: #fff7ed; font-weight: 600; }
.scroll { overflow-x: auto; }
details { margin-top: 10px; font-size: 13px; }
summary { cursor: pointer; margin-bottom: 6px; }
svg { display: block; max-width: 100%; height: auto; background: #fff; border: 1px solid #e5e7eb; border-radius: 6px; margin: 0 0 12px; font-family: inherit; }
.row { display: flex; flex-wrap: wrap; gap: 20px; }
.grid { stroke: #e5e7eb; stroke-width: 1; }
.axis { stroke: #6b7280; stroke-width: 1; }
.tick { fill: #4b5563; font-size: 11px; }
.axis-label { fill: #374151; font-size: 12px; }
.legend { fill: #111827; font-size: 12px; }
.best-label { fill: #4b5563; font-size: 11px; }
.empty { fill: #9ca3af; font-size: 13px; }
.cell text { font-size: 13px; font-variant-numeric: tabular-nums; }
.cell rect { stroke: #e5e7eb; stroke-width: 1; }
.diag { stroke: #111827; stroke-width: 1.5; }
.class-label { fill: #111827; font-size: 12px; }
.row-total { fill: #4b5563; font-size: 12px; }
footer { margin-top: 32px; color: #6b7280; font-size: 12px; }
`;

/** The report page for one run; every string taken from the data is HTML-escaped. */
export function renderReport(data: ReportData): string {
  if (!Array.isArray(data.epochs) || data.epochs.length === 0) throw new Error('renderReport: no epoch records');
  const epochs = [...data.epochs].sort((a, b) => a.epoch - b.epoch);
  const given = data.summary ?? null;
  const summary = given && summaryMatches(epochs, given) ? given : null;
  const stale = given && !summary
    ? `<p class="warn">${TEST_METRICS_FILE} (best epoch ${given.bestEpoch}) does not match ${METRICS_FILE}; it looks left over from an earlier run and is ignored.</p>`
    : '';
  const best = bestEpochOf(epochs, summary);
  const name = basename(data.dir) || data.dir;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>merclip training report: ${esc(name)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<h1>merclip training report: ${esc(name)}</h1>
<p class="path">${esc(data.dir)}</p>
${stale}
${summarySection({ ...data, epochs }, best, summary)}
${lossSection(epochs, best)}
${validSection(epochs, best)}
${confusionSection(summary, best)}
${epochsSection(epochs, best)}
<footer>${epochs.length} epoch${epochs.length === 1 ? '' : 's'} from ${METRICS_FILE}${summary ? ` and ${TEST_METRICS_FILE}` : ''}${data.generatedAt ? `; generated ${esc(data.generatedAt)}` : ''} by merclip report.</footer>
</main>
</body>
</html>
`;
}
