// lib/data/rng.ts — the data layer uses the package's one seeded generator (lib/tensor/random.ts).
export { Rng, deriveSeed, type RngState } from '../tensor/random.js';
