// lib/cli/inspect.ts — `merclip inspect FILE [--json]`: the tensors (name, dtype, shape, element
// count, bytes) and metadata of a safetensors file, read from its header only (8 + N bytes, no
// tensor data). A malformed file throws its SafetensorsError (file and tensor named); the CLI's
// main turns that into one line and exit code 1.
import type { Command } from 'commander';

import { readSafetensorsHeader, type SafetensorsHeader } from '../io/index.js';

export interface InspectReport {
  file: string;
  fileSize: number;
  headerLength: number;
  tensorCount: number;
  totalElements: number;
  totalBytes: number;
  tensors: Array<{ name: string; dtype: string; shape: number[]; elements: number; bytes: number; dataOffsets: [number, number] }>;
  metadata: Record<string, string>;
}

export function inspectReport(file: string, h: SafetensorsHeader): InspectReport {
  const tensors = h.tensors.map((t) => ({
    name: t.name, dtype: t.dtype, shape: t.shape, elements: t.elementCount, bytes: t.byteLength, dataOffsets: t.dataOffsets,
  }));
  return {
    file,
    fileSize: h.fileSize,
    headerLength: h.headerLength,
    tensorCount: tensors.length,
    totalElements: tensors.reduce((s, t) => s + t.elements, 0),
    totalBytes: tensors.reduce((s, t) => s + t.bytes, 0),
    tensors,
    metadata: h.metadata,
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n');
}

export function formatInspect(r: InspectReport): string {
  const lines: string[] = [];
  lines.push(`file     ${r.file} (${r.fileSize} bytes, header ${r.headerLength} bytes)`);
  lines.push(`tensors  ${r.tensorCount} (${r.totalElements} elements, ${r.totalBytes} bytes)`);
  if (r.tensors.length > 0) {
    lines.push('');
    lines.push(table([
      ['name', 'dtype', 'shape', 'elements', 'bytes'],
      ...r.tensors.map((t) => [t.name, t.dtype, `[${t.shape.join(', ')}]`, String(t.elements), String(t.bytes)]),
    ]));
  }
  const meta = Object.entries(r.metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  lines.push('');
  if (meta.length === 0) {
    lines.push('metadata (none)');
  } else {
    lines.push('metadata');
    const w = Math.max(...meta.map(([k]) => k.length));
    for (const [k, v] of meta) {
      const shown = v.length > 200 ? `${v.slice(0, 197)}... (${v.length} chars)` : v;
      lines.push(`  ${k.padEnd(w)}  ${shown.replace(/\n/g, '\\n')}`);
    }
  }
  return lines.join('\n');
}

export function registerInspect(program: Command, out: (s: string) => void): void {
  program
    .command('inspect')
    .description('list the tensors (name, dtype, shape, elements, bytes) and metadata of a .safetensors file')
    .argument('<file>', 'a .safetensors file')
    .option('--json', 'print as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const report = inspectReport(file, await readSafetensorsHeader(file));
      out(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatInspect(report) + '\n');
    });
}
