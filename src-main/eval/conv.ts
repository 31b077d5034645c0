/**
 * Fast pieces of the downstream CNN (classifiers.ts), mostly for the
 * WebAssembly backend, where tfjs's own gradients are slow spots:
 *
 * - `inputGradient` / `conv2dSame`: the input gradient of conv2d(x, w, s,
 *   'same') as s² stride-1 convolutions on XNNPACK (the "sub-pixel"
 *   decomposition of a transposed convolution, Shi et al. 2016) instead of
 *   tfjs-backend-wasm 4.22's Conv2DBackpropInput, which loops in plain code:
 *   measured on the development machine at batch 128, CPU time per CNN step
 *   ≈ 155 → 90 ms.
 * - `filterGradient`: the filter gradient as im2col(x)ᵀ × dy, the im2col
 *   matrix written in place on the wasm heap a few images at a time
 *   (`im2colColumns`); tfjs-backend-wasm's kernel writes it column by
 *   column, every value on another memory page.
 * - `dropoutMask`: inverted-dropout masks drawn from our seeded generator,
 *   32 bits per draw when rate = 0.5 (tf.dropout draws every element with
 *   seedrandom in JS: ≈ 25 ms per step), reproducible from the seed, written
 *   as integer bit patterns into a reused buffer (≈ 3 ms per step).
 *
 * All compute the same numbers as the plain tfjs ops (conv.test.ts) and only
 * matter for speed. bench/eval.ts: the CNN's training step went from ≈ 64 to
 * ≈ 45 ms (wall, batch 128, shared two-core machine; see the report there).
 */
import * as tf from '@tensorflow/tfjs';
import type { SeededRng } from '../engine/rng';
import { im2colColumnsOnWasm, interleaveOnWasm, onWasm } from './wasm-kernels';

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
 * run on XNNPACK, interleaved. The phase filters are cut from w's values in
 * JS (a few thousand numbers; gathering them with tfjs ops took 8 kernel
 * calls a step). Needs H and W divisible by s and k ≥ s
 * ({@link hasSubPixelGradient}).
 */
export function inputGradient(dy: tf.Tensor4D, w: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  const { batch, inH, inW, inC, kernel: k, stride: s, outH, outW, padTop, padLeft } = g;
  const f = w.shape[3];
  const ph = inH / s;
  const pw = inW / s;
  const wv = w.dataSync() as Float32Array; // [k, k, C, F]
  return tf.tidy(() => {
    const phases: tf.Tensor4D[] = [];
    for (let py = 0; py < s; py++) {
      const ty = phaseTaps(py, padTop, k, s);
      for (let px = 0; px < s; px++) {
        const tx = phaseTaps(px, padLeft, k, s);
        // filter[a, b, f, c] = w[ty.taps[a], tx.taps[b], c, f]
        const fh = ty.taps.length;
        const fw = tx.taps.length;
        const values = new Float32Array(fh * fw * f * inC);
        for (let a = 0; a < fh; a++) {
          for (let b = 0; b < fw; b++) {
            const src = ((ty.taps[a] as number) * k + (tx.taps[b] as number)) * inC * f;
            const dst = (a * fw + b) * f * inC;
            for (let c = 0; c < inC; c++)
              for (let o = 0; o < f; o++) values[dst + o * inC + c] = wv[src + c * f + o] as number;
          }
        }
        const filter = tf.tensor4d(values, [fh, fw, f, inC]);
        // out[i] = Σ_t dy[i + first + t]·filter[t] for i < ph: dy rows first … first + ph + n − 2.
        const [y0, y1] = [ty.first, ty.first + ph + fh - 1];
        const [x0, x1] = [tx.first, tx.first + pw + fw - 1];
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
        phases.push(tf.conv2d(src, filter, 1, pad)); // [B, ph, pw, C]
      }
    }
    if (s === 1) return phases[0] as tf.Tensor4D;
    if (onWasm()) return interleaveOnWasm(phases, s);
    // (tf.depthToSpace would interleave too, but runs ≈ 20× slower on the WebAssembly backend.)
    const rows = Array.from({ length: s }, (_, py) =>
      tf.stack(phases.slice(py * s, (py + 1) * s), 3),
    ); // each [B, ph, pw, s, C]
    return tf.reshape(tf.stack(rows, 2), [batch, inH, inW, inC]); // [B, ph, s, pw, s, C]
  });
}

/** Whether {@link inputGradient} handles this convolution (else use tfjs's own gradient). */
export function hasSubPixelGradient(g: ConvGeometry): boolean {
  return g.inH % g.stride === 0 && g.inW % g.stride === 0 && g.kernel >= g.stride;
}

/**
 * The im2col matrix transposed, [k·k·C, B·OH·OW]: row (i·k + j)·C + c,
 * column (b·OH + y)·OW + x holds xpad[b, s·y + i, s·x + j, c]. Written a few
 * images at a time, each row's stretch contiguous (tfjs-backend-wasm's
 * Conv2DBackpropFilter writes it one column at a time, every value of a
 * column on another memory page).
 */
export function im2colColumns(x: Float32Array, g: ConvGeometry, out: Float32Array): void {
  const { batch, inH, inW, inC, kernel: k, stride: s, outH, outW, padTop, padLeft } = g;
  const per = outH * outW;
  const cols = batch * per;
  const block = Math.max(1, Math.floor(1024 / per));
  // Output columns whose input column is inside the image, for each filter column j.
  const first = new Int32Array(k);
  const end = new Int32Array(k);
  for (let j = 0; j < k; j++) {
    first[j] = Math.min(outW, Math.max(0, Math.ceil((padLeft - j) / s)));
    end[j] = Math.max(
      first[j] as number,
      Math.min(outW, Math.floor((inW - 1 + padLeft - j) / s) + 1),
    );
  }
  const step = s * inC;
  for (let b0 = 0; b0 < batch; b0 += block) {
    const b1 = Math.min(batch, b0 + block);
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        const lo = first[j] as number;
        const hi = end[j] as number;
        for (let c = 0; c < inC; c++) {
          let p = ((i * k + j) * inC + c) * cols + b0 * per;
          for (let b = b0; b < b1; b++) {
            for (let y = 0; y < outH; y++) {
              const yi = y * s + i - padTop;
              if (yi < 0 || yi >= inH) {
                for (let q = 0; q < outW; q++) out[p + q] = 0;
                p += outW;
                continue;
              }
              let xo = 0;
              for (; xo < lo; xo++) out[p++] = 0;
              let src = ((b * inH + yi) * inW + lo * s + j - padLeft) * inC + c;
              for (; xo < hi; xo++, src += step) out[p++] = x[src] as number;
              for (; xo < outW; xo++) out[p++] = 0;
            }
          }
        }
      }
    }
  }
}

/**
 * The gradient of conv2d(x, w, s, 'same') with respect to its k×k filter,
 * dW = im2col(x)ᵀ × dy. On the WebAssembly backend the im2col matrix is
 * built in place by {@link im2colColumns} and the product runs on XNNPACK
 * (measured at the downstream CNN's second layer ≈ 40 % faster than
 * tfjs-backend-wasm's Conv2DBackpropFilter); elsewhere it is the backend's
 * own kernel.
 */
export function filterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  const f = dy.shape[3];
  const filterShape: [number, number, number, number] = [g.kernel, g.kernel, g.inC, f];
  if (!onWasm()) {
    return tf
      .engine()
      .runKernel(
        'Conv2DBackpropFilter',
        { x, dy },
        { strides: g.stride, pad: 'same', dataFormat: 'NHWC', filterShape },
      ) as tf.Tensor4D;
  }
  return tf.tidy(() => {
    const colsT = im2colColumnsOnWasm(x, g);
    const positions = g.batch * g.outH * g.outW;
    return tf.reshape(tf.matMul(colsT, tf.reshape(dy, [positions, f])), filterShape);
  });
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
  if (!hasSubPixelGradient(g) || w.shape[1] !== k) {
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

/** Bits of the float32 2.0 (the kept value 1/(1 − rate) at rate 0.5). */
const FLOAT32_TWO_BITS = 0x40000000;

/**
 * An inverted-dropout mask of `size` entries: each is 0 with probability
 * `rate`, else 1/(1 − rate), independently, drawn from `rng`. Written into
 * `out` when given (its first `size` entries; reused between training steps,
 * since a fresh multi-megabyte array costs page faults every step), else
 * into a new array.
 *
 * At rate 0.5 every draw gives 32 entries, written as integer bit patterns
 * (0 or the bits of 2.0) through a Uint32Array view: measured on the
 * development machine for the CNN's 1.2 million entries per step, ≈ 3 ms,
 * against ≈ 20–45 ms for float writes into a fresh array. Same values either way.
 */
export function dropoutMask(
  rng: SeededRng,
  size: number,
  rate: number,
  out?: Float32Array,
): Float32Array {
  if (out !== undefined && out.length < size) {
    throw new RangeError(`The mask buffer holds ${out.length} entries; ${size} are needed.`);
  }
  const mask = out ?? new Float32Array(size);
  if (rate === 0.5) {
    const bitsOut = new Uint32Array(mask.buffer, mask.byteOffset, size);
    for (let i = 0; i < size; i += 32) {
      const bits = rng.nextUint32();
      const end = Math.min(32, size - i);
      for (let j = 0; j < end; j++) bitsOut[i + j] = ((bits >>> j) & 1) * FLOAT32_TWO_BITS;
    }
    return mask;
  }
  const keep = 1 / (1 - rate);
  const cut = rate * 256;
  if (Number.isInteger(cut)) {
    // A rate of a whole number of 256ths: one byte per entry, 4 entries per draw.
    for (let i = 0; i < size; i += 4) {
      const bits = rng.nextUint32();
      const end = Math.min(4, size - i);
      for (let j = 0; j < end; j++) mask[i + j] = ((bits >>> (8 * j)) & 255) < cut ? 0 : keep;
    }
    return mask;
  }
  for (let i = 0; i < size; i++) mask[i] = rng.nextFloat() < rate ? 0 : keep;
  return mask;
}
