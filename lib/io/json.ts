// lib/io/json.ts — JSON that keeps every number: JSON.stringify writes NaN and ±Infinity as null
// and −0 as 0, so a state holding "no best loss yet" (Infinity) would come back as null. Here
// such numbers are written as {"$number": "Infinity" | "-Infinity" | "NaN" | "-0"} and read
// back as themselves; every other value is plain JSON. (An object whose only key is "$number" is
// therefore reserved.)

const SPECIAL: Record<string, number> = { Infinity: Infinity, '-Infinity': -Infinity, NaN: NaN, '-0': -0 };

function special(v: number): string | null {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  if (Object.is(v, -0)) return '-0';
  return null;
}

/** JSON.stringify that keeps NaN, ±Infinity and −0 (see the header). */
export function stringifyExact(value: unknown, space?: number): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v !== 'number') return v;
    const s = special(v);
    return s === null ? v : { $number: s };
  }, space);
}

/** The inverse of stringifyExact; plain JSON parses as JSON.parse does. */
export function parseExact(text: string): unknown {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const keys = Object.keys(v);
      const s = (v as { $number?: unknown }).$number;
      if (keys.length === 1 && typeof s === 'string' && s in SPECIAL) return SPECIAL[s];
    }
    return v;
  });
}
