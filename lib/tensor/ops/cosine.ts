// lib/tensor/ops/cosine.ts — scaled cosine similarity (native kernels): all pairs x × e, and the
// prediction head's paired form (each query row against its own label embedding). The backward
// kernels write both gradients at once (one handGrad call).

import { kernels } from '../../kernels/index.js';
import { empty, fmtShape, handGrad, type Tensor } from '../tensor.js';
import { fail, record } from './common.js';

/** scale · cos(x_i, e_j): x [N, D], e [C, D] → [N, C]. */
export function cosineSimilarity(x: Tensor, e: Tensor, scale = 1, eps?: number): Tensor {
  const op = 'cosineSimilarity';
  if (x.ndim !== 2 || e.ndim !== 2 || x.dim(1) !== e.dim(1)) fail(op, `expected x [N, D] and e [C, D], received ${fmtShape(x.shape)} and ${fmtShape(e.shape)}`);
  const [n, dim] = x.shape as [number, number];
  const c = e.dim(0);
  const y = empty([n, c]);
  kernels.cosineSimilarity({ x: x.data, e: e.data, n, c, dim, scale, eps, out: y.data });
  return record(y, op, [x, e], (g) => {
    handGrad([x, e], ([dx, de]) => kernels.cosineSimilarityBackward({ dOut: g, out: y.data, x: x.data, e: e.data, n, c, dim, scale, eps, dx: dx.buf, de: de.buf }));
  });
}

/** scale · cos(h[b, j], e[j]): h [B, C, D], e [C, D] → [B, C] (the prediction head). */
export function cosinePaired(h: Tensor, e: Tensor, scale = 1, eps?: number): Tensor {
  const op = 'cosinePaired';
  if (h.ndim !== 3 || e.ndim !== 2 || h.dim(1) !== e.dim(0) || h.dim(2) !== e.dim(1)) {
    fail(op, `expected h [B, C, D] and e [C, D], received ${fmtShape(h.shape)} and ${fmtShape(e.shape)}`);
  }
  const [batch, c, dim] = h.shape as [number, number, number];
  const y = empty([batch, c]);
  kernels.cosinePaired({ h: h.data, e: e.data, batch, c, dim, scale, eps, out: y.data });
  return record(y, op, [h, e], (g) => {
    handGrad([h, e], ([dh, de]) => kernels.cosinePairedBackward({ dOut: g, out: y.data, h: h.data, e: e.data, batch, c, dim, scale, eps, dh: dh.buf, de: de.buf }));
  });
}
