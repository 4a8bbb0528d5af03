// lib/data — datasets in memory: the split layout, batching, the seeded generator and the
// synthetic MOSI-shaped dataset, and the dataset file (read/write).
export * from './rng.js';
export * from './batch.js';
export * from './synth.js';
export * from './file.js';
export * from './mmsa.js';
