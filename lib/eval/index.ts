// lib/eval — evaluation: MMSA's regression metrics for MOSI/MOSEI and their formatting.
export * from './metrics.js';
