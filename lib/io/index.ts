// lib/io/index.ts — file formats and file writing: safetensors reader and writer (SPEC §4), the atomic
// write every file goes through, exact JSON, crash-test failpoints. Depends only on node:*.
export {
  DTYPE_SIZE,
  MAX_HEADER_LENGTH,
  SAFETENSORS_DTYPES,
  SafetensorsError,
  bf16BitsToF32,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  parseSafetensors,
  readSafetensors,
  readSafetensorsHeader,
  readSafetensorsHeaderSync,
  readSafetensorsSync,
  serializeSafetensors,
  writeSafetensors,
  writeSafetensorsSync,
  fmtShape,
  show,
} from './safetensors.js';
export type {
  SafetensorsData,
  SafetensorsDtype,
  SafetensorsErrorCode,
  SafetensorsFile,
  SafetensorsHeader,
  SafetensorsTensor,
  SafetensorsTensorInfo,
  WritableTensor,
  WritableTensors,
} from './safetensors.js';
export { removeStaleTemps, tempPathFor, writeFileAtomic, writeFileAtomicSync } from './atomic.js';
export type { FileContent } from './atomic.js';
export { failpoint, failpointsArmed } from './failpoints.js';
export { parseExact, stringifyExact } from './json.js';
