// test/helpers/packed.ts — a dense [B, L, D] test tensor's valid rows as a packed [T, D] tensor on
// the tape (ops.gatherRows: the gradient flows back to the dense rows, 0 on the padding), with
// its layout: how the tests feed the packed layers from the dense inputs their references use.
import { ops, type Tensor } from '../../lib/tensor/index.js';
import { layoutOf, type SequenceLayout } from '../../lib/tensor/packed.js';

export function packDense(x: Tensor, lengths: ArrayLike<number>): { rows: Tensor; layout: SequenceLayout } {
  const [B, L, D] = x.shape as [number, number, number];
  const layout = layoutOf(lengths, L);
  const idx = new Int32Array(layout.offsets[B]!);
  let t = 0;
  for (let b = 0; b < B; b++) for (let j = 0; j < layout.lengths[b]!; j++) idx[t++] = b * L + j;
  return { rows: ops.gatherRows(x.reshape([B * L, D]), idx), layout };
}
