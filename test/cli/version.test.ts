// `merclip --version` / `-V` through the real bin script: the version in package.json, exit 0.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/backend/index.js';

const root = packageRoot();
const bin = join(root, 'bin', 'merclip.js');
// read here, independently of the CLI's own lookup
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };

describe('merclip --version', () => {
  it.each(['--version', '-V'])('%s prints the package version and exits 0', (flag) => {
    const r = spawnSync(process.execPath, [bin, flag], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
    expect(r.stderr).toBe('');
  });

  it('is listed in --help', () => {
    const r = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\s+-V, --version\s+print the merclip version/m);
  });
});
