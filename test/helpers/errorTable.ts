// test/helpers/errorTable.ts — the shared runner of the table-driven binding error tests
// (test/binding/*errors.test.ts). A test file supplies its functions, a valid base object per
// function and target, and its rows (each one bad argument: a base object with one field
// changed, the error class it must raise and the argument its message must name);
// `runErrorTable` registers the describe / it blocks that run every row against BOTH the
// TypeScript wrapper (`kernels.<fn>`) and the raw binding (`backend.native().<fn>`), and against
// the async forms, which must return a rejected promise (never throw synchronously) with the
// same class and message; the wrapper's rejection must carry the caller's stack.

import { describe, expect, it } from 'vitest';
import { backend, kernels } from '../../lib/index.js';

export type Target = 'kernels' | 'native';
export type Options = Record<string, unknown>;
export type ErrorClass = typeof TypeError | typeof RangeError;

export const TARGETS = ['kernels', 'native'] as const;

/** A patch value that deletes the field from the base object. */
export const MISSING = Symbol('missing');

export interface Row<F extends string = string> {
  fn: F;
  what: string;
  /** Fields to change (MISSING deletes), or a function of the base, or `whole` replaces it. */
  patch?: Record<string, unknown> | ((base: Options) => Options) | undefined;
  whole?: unknown;
  cls: ErrorClass;
  /** The argument the message must name (a regex source): "expected <arg> to …" / "… not to …". */
  arg?: string;
  /** A full message regex instead of `arg` (the function-name prefix is still checked). */
  message?: RegExp;
  only?: Target;
}

/** Values every shape argument (a size: an integer in [1, 2^31 − 1]) must reject, with the class each gets. */
export const BAD_SIZES: ReadonlyArray<readonly [string, unknown, ErrorClass]> = [
  ['0', 0, RangeError],
  ['negative', -1, RangeError],
  ['non-integer', 2.5, RangeError],
  ['NaN', NaN, RangeError],
  ['Infinity', Infinity, RangeError],
  ['-Infinity', -Infinity, RangeError],
  ['2**31', 2 ** 31, RangeError],
  ['2**40', 2 ** 40, RangeError],
  ['a string', '2', TypeError],
  ['a boolean', true, TypeError],
  ['null', null, TypeError],
  ['a BigInt', 2n, TypeError],
  ['missing', MISSING, TypeError],
];

/** One row: `fn` called with its base object patched by `patch` must raise `cls` naming `arg`. */
export const bad = <F extends string>(
  fn: F, what: string, patch: Row['patch'], cls: ErrorClass, arg: string, only?: Target,
): Row<F> => ({ fn, what, patch, cls, arg, ...(only ? { only } : {}) });

/** The options a row passes to `target`: its base object with the patch applied (or `whole`). */
export function optionsFor<F extends string>(
  row: Row<F>, target: Target, baseFor: (fn: F, target: Target) => Options,
): unknown {
  if ('whole' in row) return row.whole;
  const base = baseFor(row.fn, target);
  const patch = typeof row.patch === 'function' ? row.patch(base) : row.patch ?? {};
  const opts: Options = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === MISSING) delete opts[key];
    else opts[key] = value;
  }
  return opts;
}

export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `fnPattern` is a regex source for the function name (e.g. 'gemm(?:Async)?'). */
export function messageRe(row: Row, fnPattern: string): RegExp {
  const prefix = `^${fnPattern}: `;
  if (row.message) return new RegExp(prefix + '.*' + row.message.source);
  return new RegExp(`${prefix}expected ${row.arg!} (?:to|not to) `);
}

export type AnyFn = (opts: unknown) => unknown;

/** `kernels.<name>` or `backend.native().<name>`, with the object to call it on. */
export function lookup(target: Target, name: string): { fn: AnyFn; self: object } {
  const self = (target === 'kernels' ? kernels : backend.native()) as unknown as Record<string, unknown>;
  const fn = self[name];
  if (typeof fn !== 'function') throw new Error(`${target}.${name} is not a function`);
  return { fn: fn as AnyFn, self };
}

export function rowTitle(row: Row): string {
  return `${row.fn}: ${row.what} → ${row.cls.name}${row.only ? ` (${row.only} only)` : ''}`;
}

export function targetsFor(row: Row): Target[] {
  return row.only ? [row.only] : [...TARGETS];
}

/** Valid calls to every function (sync) do not throw, on both layers. */
export function expectBasesValid<F extends string>(fns: readonly F[], baseFor: (fn: F, target: Target) => Options): void {
  for (const fn of fns) {
    for (const target of TARGETS) {
      const { fn: f, self } = lookup(target, fn);
      expect(() => f.call(self, baseFor(fn, target)), `${target}.${fn}`).not.toThrow();
    }
  }
}

export interface ErrorTable<F extends string> {
  fns: readonly F[];
  /** A fresh valid options object for `fn` on `target`. */
  baseFor: (fn: F, target: Target) => Options;
  rows: Row<F>[];
  /** The async form of `fn`, or undefined where it has none. Default: `${fn}Async`. */
  asyncName?: (fn: F) => string | undefined;
  /** Title of the async describe block (after "<target>: "). */
  asyncTitle?: string;
  /** Whether the base-validity test also awaits the async form on the base object. */
  baseAsync?: boolean;
  /** More checks inside each base-validity test (`f` is `<target>.<fn>`, bound by `self`). */
  extraBaseChecks?: (f: AnyFn, self: object, fn: F, target: Target) => void;
}

/** A regex source matching the file name of this module in a stack trace (the caller of the async forms). */
const CALLER_FILE = 'errorTable';

/** Registers the base-validity, sync and async describe blocks of one error table. */
export function runErrorTable<F extends string>(table: ErrorTable<F>): void {
  const { fns, baseFor, rows: allRows } = table;
  const asyncName = table.asyncName ?? ((fn: F): string | undefined => `${fn}Async`);
  const asyncTitle = table.asyncTitle ?? 'the …Async forms reject (never throw synchronously)';

  describe('base options are valid (so every row below fails for its one change)', () => {
    for (const fn of fns) {
      for (const target of TARGETS) {
        const title = table.baseAsync ? `${target}.${fn} and ${target}.${fn}Async` : `${target}.${fn}`;
        it(title, async () => {
          const { fn: f, self } = lookup(target, fn);
          expect(() => f.call(self, baseFor(fn, target))).not.toThrow();
          if (table.baseAsync) {
            const { fn: fa, self: sa } = lookup(target, `${fn}Async`);
            await fa.call(sa, baseFor(fn, target));
          }
          table.extraBaseChecks?.(f, self, fn, target);
        });
      }
    }
  });

  describe.each(TARGETS)('%s: bad arguments throw the right error class naming the argument', (target) => {
    const rows = allRows.filter((r) => targetsFor(r).includes(target));
    it.each(rows.map((r): [string, Row<F>] => [rowTitle(r), r]))('%s', (_title, row) => {
      const { fn, self } = lookup(target, row.fn);
      let thrown: unknown;
      try {
        fn.call(self, optionsFor(row, target, baseFor));
      } catch (e) {
        thrown = e;
      }
      expect(thrown, 'expected the call to throw').toBeDefined();
      expect(thrown).toBeInstanceOf(row.cls);
      expect((thrown as Error).message).toMatch(messageRe(row, escapeRe(row.fn)));
    });
  });

  describe.each(TARGETS)(`%s: ${asyncTitle}`, (target) => {
    const rows = allRows.filter((r) => asyncName(r.fn) !== undefined && targetsFor(r).includes(target));
    it.each(rows.map((r): [string, Row<F>] => [rowTitle(r), r]))('%s', async (_title, row) => {
      const name = asyncName(row.fn)!;
      const { fn, self } = lookup(target, name);
      let result: unknown;
      expect(() => {
        result = fn.call(self, optionsFor(row, target, baseFor));
      }, `${target}.${name} must return a rejected promise, not throw`).not.toThrow();
      expect(result).toBeInstanceOf(Promise);
      const err = await (result as Promise<unknown>).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, 'expected the promise to reject').toBeDefined();
      expect(err).toBeInstanceOf(row.cls);
      // the message names either the async or the sync function
      expect((err as Error).message).toMatch(messageRe(row, `${escapeRe(row.fn)}(?:Async)?`));
      // the caller here is this module, so its frame must be on the wrapper's rejection
      if (target === 'kernels') expect((err as Error).stack ?? '').toContain(CALLER_FILE);
    });
  });
}
