// lib/cli/tokenize.ts — `merclip tokenize --vocab DIR [--json] [--context-length N] [--truncate] TEXT...`
// Prints each text's CLIP token ids (start and end ids included, no padding): one line of
// space-separated ids per text, or with --json one array of {text, ids}. A text longer than the
// context length (default 77) is an error naming it, unless --truncate cuts it (end id kept last).
import { type Command, InvalidArgumentError } from 'commander';

import { ClipTokenizer, DEFAULT_CONTEXT_LENGTH } from '../clip/tokenizer.js';

interface TokenizeOptions {
  vocab: string;
  json?: boolean;
  contextLength: number;
  truncate?: boolean;
}

function parseContextLength(value: string): number {
  if (!/^\s*\d+\s*$/.test(value)) throw new InvalidArgumentError('expected an integer ≥ 2.');
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 2) throw new InvalidArgumentError('expected an integer ≥ 2.');
  return n;
}

export function registerTokenize(program: Command, out: (s: string) => void): void {
  program
    .command('tokenize')
    .description('print the CLIP token ids of each TEXT (start and end ids included)')
    .requiredOption('--vocab <dir>', 'directory with vocab.json and merges.txt')
    .option('--json', 'print a JSON array of {text, ids}')
    .option('--context-length <n>', 'longest allowed token sequence', parseContextLength, DEFAULT_CONTEXT_LENGTH)
    .option('--truncate', 'cut texts longer than the context length (end id kept last) instead of failing')
    .argument('<text...>', 'texts to tokenize')
    .action((texts: string[], opts: TokenizeOptions) => {
      const tok = ClipTokenizer.fromDir(opts.vocab);
      const results = texts.map((text, i) => ({
        text,
        ids: tok.encodeFitted(
          text,
          { contextLength: opts.contextLength, truncate: opts.truncate ?? false },
          texts.length > 1 ? `text ${i + 1}` : 'text',
        ),
      }));
      if (opts.json) out(JSON.stringify(results) + '\n');
      else out(results.map((r) => r.ids.join(' ') + '\n').join(''));
    });
}
