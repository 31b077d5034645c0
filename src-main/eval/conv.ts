/**
 * Fast pieces of the downstream CNN (classifiers.ts) on the WebAssembly
 * backend, where a training step is otherwise dominated by two slow spots:
 *
 * - `conv2dSame`: conv2d(x, w, s, 'same') whose input gradient runs as s²
 *   stride-1 convolutions on XNNPACK (the "sub-pixel" decomposition of a
 *   transposed convolution, Shi et al. 2016) instead of tfjs-backend-wasm
 *   4.22's Conv2DBackpropInput, which loops in plain code: measured on the
 *   development machine at batch 128, CPU time per CNN step ≈ 155 → 90 ms.
 * - `dropoutMask`: inverted-dropout masks drawn from our seeded generator,
 *   32 bits per draw when rate = 0.5 (tf.dropout draws every element with
 *   seedrandom in JS: ≈ 25 ms per step), reproducible from the seed.
 *
 * Both compute the same numbers as the plain tfjs ops (conv.test.ts) and
 * only matter for speed.
 */
import * as tf from '@tensorflow/tfjs';
import type { SeededRng } from '../engine/rng';

/** Sizes of one convolution: input [B, H, W, C], filter [k, k, C, F], stride s, 'same' padding. */
export interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  kernel: number;
  stride: number;
  outH: number;
  outW: number;
  padTop: number;
  padLeft: number;
}

/** Output size and leading padding of TensorFlow's 'same' padding. */
export function samePadding(
  size: number,
  kernel: number,
  stride: number,
): { out: number; before: number } {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  return { out, before: Math.floor(total / 2) };
}

/** Sizes of conv2d(x, w, stride, 'same') for x of shape `xShape` and a k×k filter. */
export function geometryOf(
  xShape: readonly number[],
  kernel: number,
  stride: number,
): ConvGeometry {
  const [batch = 0, inH = 0, inW = 0, inC = 0] = xShape;
  const h = samePadding(inH, kernel, stride);
  const w = samePadding(inW, kernel, stride);
  return {
    batch,
    inH,
    inW,
    inC,
    kernel,
    stride,
    outH: h.out,
    outW: w.out,
    padTop: h.before,
    padLeft: w.before,
  };
}

/** Taps of one output phase of the input gradient: filter rows and the dy offset of the first. */
interface Phase {
  /** Filter indices along this axis, in the order of increasing dy offset. */
  taps: number[];
  /** dy offset of the first tap (the next ones are +1, +2, …). */
  first: number;
}

/**
 * For input positions i ≡ phase (mod s): the filter taps f with
 * s·o + f − pad = s·i' + phase for some output o, i.e. (phase + pad − f) ≡ 0
 * (mod s), each reading dy at offset d = (phase + pad − f)/s from i'.
 */
function phaseTaps(phase: number, pad: number, kernel: number, stride: number): Phase {
  const r = phase + pad;
  const taps: number[] = [];
  // f = r − s·d; increasing d means decreasing f.
  for (let f = kernel - 1; f >= 0; f--) if ((r - f) % stride === 0) taps.push(f);
  const f0 = taps[0] ?? 0;
  return { taps, first: (r - f0) / stride };
}

/**
 * The gradient of conv2d(x, w, s, 'same') with respect to x, as s² stride-1
 * convolutions of dy (one per output phase, "sub-pixel" decomposition) that
 * run on XNNPACK, interleaved. Needs H and W divisible by s and k ≥ s.
 */
function inputGradient(dy: tf.Tensor4D, w: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  const { batch, inH, inW, inC, kernel: k, stride: s, outH, outW, padTop, padLeft } = g;
  const ph = inH / s;
  const pw = inW / s;
  const wt = tf.transpose(w, [0, 1, 3, 2]); // [k, k, F, C]
  const rows: tf.Tensor[] = [];
  for (let py = 0; py < s; py++) {
    const ty = phaseTaps(py, padTop, k, s);
    const cols: tf.Tensor[] = [];
    for (let px = 0; px < s; px++) {
      const tx = phaseTaps(px, padLeft, k, s);
      const filter = tf.gather(tf.gather(wt, ty.taps, 0), tx.taps, 1) as tf.Tensor4D;
      // out[i] = Σ_t dy[i + first + t]·filter[t] for i < ph: dy rows first … first + ph + n − 2.
      const [y0, y1] = [ty.first, ty.first + ph + ty.taps.length - 1];
      const [x0, x1] = [tx.first, tx.first + pw + tx.taps.length - 1];
      const sy = Math.max(0, y0);
      const sx = Math.max(0, x0);
      const src =
        sy > 0 || sx > 0 || y1 < outH || x1 < outW
          ? tf.slice(
              dy,
              [0, sy, sx, 0],
              [batch, Math.min(outH, y1) - sy, Math.min(outW, x1) - sx, -1],
            )
          : dy;
      const pad: [[number, number], [number, number], [number, number], [number, number]] = [
        [0, 0],
        [Math.max(0, -y0), Math.max(0, y1 - outH)],
        [Math.max(0, -x0), Math.max(0, x1 - outW)],
        [0, 0],
      ];
      cols.push(tf.conv2d(src, filter, 1, pad));
    }
    rows.push(tf.stack(cols, 3)); // [B, ph, pw, s, C]
  }
  return tf.reshape(tf.stack(rows, 2), [batch, inH, inW, inC]); // [B, ph, s, pw, s, C]
}

/**
 * conv2d(x, w, stride, 'same') for x [B, H, W, C] and a square filter
 * w [k, k, C, F]: the forward pass and the filter gradient are tfjs's
 * kernels; the input gradient is {@link inputGradient} when H and W are
 * multiples of the stride (else tfjs's own).
 */
export function conv2dSame(x: tf.Tensor4D, w: tf.Tensor4D, stride: number): tf.Tensor4D {
  const k = w.shape[0];
  const g = geometryOf(x.shape, k, stride);
  if (g.inH % stride !== 0 || g.inW % stride !== 0 || k < stride || w.shape[1] !== k) {
    return tf.conv2d(x, w, stride, 'same');
  }
  const op = tf.customGrad((xIn, wIn, save) => {
    (save as tf.GradSaveFunc)([xIn as tf.Tensor, wIn as tf.Tensor]);
    return {
      value: tf.conv2d(xIn as tf.Tensor4D, wIn as tf.Tensor4D, stride, 'same'),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        const dx = inputGradient(dy as tf.Tensor4D, ws, g);
        const dw = tf
          .engine()
          .runKernel(
            'Conv2DBackpropFilter',
            { x: xs, dy },
            { strides: stride, pad: 'same', dataFormat: 'NHWC', filterShape: ws.shape },
          ) as tf.Tensor;
        return [dx, dw];
      },
    };
  });
  return op(x, w) as tf.Tensor4D;
}

/**
 * An inverted-dropout mask of `size` entries: each is 0 with probability
 * `rate`, else 1/(1 − rate), independently, drawn from `rng`.
 */
export function dropoutMask(rng: SeededRng, size: number, rate: number): Float32Array {
  const mask = new Float32Array(size);
  const keep = 1 / (1 - rate);
  if (rate === 0.5) {
    for (let i = 0; i < size; i += 32) {
      const bits = rng.nextUint32();
      const end = Math.min(32, size - i);
      for (let j = 0; j < end; j++) mask[i + j] = (bits >>> j) & 1 ? keep : 0;
    }
    return mask;
  }
  for (let i = 0; i < size; i++) mask[i] = rng.nextFloat() < rate ? 0 : keep;
  return mask;
}
