// vitest.config.ts — every test under test/, generous per-test timeout (the larger GEMM shapes
// run on 2-core CI machines), and separate processes per file (the native addon holds global
// SIMD-level / thread-count state that tests change).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    pool: 'forks',
  },
});
