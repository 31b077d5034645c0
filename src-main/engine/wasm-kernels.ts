/**
 * Kernels we register on the tfjs WebAssembly backend so that every model
 * trains there (and fast):
 *
 * - `Conv2DBackpropFilter`: missing from tfjs-backend-wasm 4.22; needed for
 *   the weight gradients of conv2d and conv2dTranspose (conv variant).
 *   im2col in JS, then one XNNPACK product (NHWC, dilation 1).
 * - `BatchMatMul` (replaces the built-in one): the built-in kernel uses
 *   XNNPACK only for a single un-transposed matrix product and a naive triple
 *   loop otherwise (measured ≈ 25× slower), which is every backward matmul and
 *   every batched [G, B, in] × [G, in, out] product of stage 1. Ours
 *   transposes in JS where asked and runs one XNNPACK product per batch entry
 *   through the built-in kernel's fast path.
 *
 * - `Conv2DBackpropInput` (replaces the built-in one): the built-in kernel is
 *   a direct loop, which at 64×64 took 60 % of a DP-SGD step (every
 *   conv2dTranspose of the decoder and the input gradient of every conv2d).
 *   Ours is one XNNPACK product dY·Wᵀ into columns and a col2im sum in JS,
 *   a slice of the batch at a time so the columns stay ≤ 64 MB.
 *
 * All work on `BackendWasm`'s public surface (`makeOutput`,
 * `typedArrayFromHeap`, `disposeData`). Heap views are re-taken after any
 * allocation, because growing wasm memory detaches earlier views.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type KernelArgs = Parameters<tf.KernelFunc>[0];

let registered = false;

/** Names of the kernels this module registers on 'wasm'. */
export const WASM_KERNELS = ['BatchMatMul', 'Conv2DBackpropFilter', 'Conv2DBackpropInput'] as const;

/** Registers our kernels on the 'wasm' backend (idempotent). */
export function registerWasmKernels(): void {
  if (registered) return;
  const builtin = tf.getKernel('BatchMatMul', 'wasm');
  if (!builtin) throw new Error('The WebAssembly backend has no BatchMatMul kernel to wrap.');
  const builtinFunc = builtin.kernelFunc;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({
    kernelName: 'BatchMatMul',
    backendName: 'wasm',
    kernelFunc: (args: KernelArgs) => batchMatMul(args, builtinFunc),
  });
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    tf.registerKernel({
      kernelName: 'Conv2DBackpropFilter',
      backendName: 'wasm',
      kernelFunc: ((a: Parameters<typeof conv2DBackpropFilter>[0]) =>
        conv2DBackpropFilter(a, builtinFunc)) as unknown as tf.KernelFunc,
    });
  }
  if (tf.getKernel('Conv2DBackpropInput', 'wasm'))
    tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  tf.registerKernel({
    kernelName: 'Conv2DBackpropInput',
    backendName: 'wasm',
    kernelFunc: ((a: Parameters<typeof conv2DBackpropInput>[0]) =>
      conv2DBackpropInput(a, builtinFunc)) as unknown as tf.KernelFunc,
  });
  registered = true;
}

function f32(backend: BackendWasm, t: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** Copies matrix `src` (rows × cols at `off`) into `dst`, transposing when asked. */
function copyMatrix(
  src: Float32Array,
  off: number,
  rows: number,
  cols: number,
  transpose: boolean,
  dst: Float32Array,
): void {
  if (!transpose) {
    dst.set(src.subarray(off, off + rows * cols));
    return;
  }
  // dst is cols × rows. Tile to stay cache-friendly.
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++) {
        const s = off + r * cols;
        for (let c = c0; c < c1; c++) dst[c * rows + r] = src[s + c] as number;
      }
    }
  }
}

function batchMatMul(args: KernelArgs, builtin: tf.KernelFunc): tf.TensorInfo | tf.TensorInfo[] {
  const backend = args.backend as BackendWasm;
  const a = args.inputs.a as tf.TensorInfo;
  const b = args.inputs.b as tf.TensorInfo;
  const transposeA = Boolean(args.attrs?.transposeA);
  const transposeB = Boolean(args.attrs?.transposeB);
  const ar = a.shape.length;
  const br = b.shape.length;
  const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  const sameOuter =
    a.shape.slice(0, -2).join(',') === b.shape.slice(0, -2).join(',') ||
    batchA === 1 ||
    batchB === 1;
  const simple = batchA === 1 && batchB === 1 && !transposeA && !transposeB;
  if (simple || !sameOuter || a.dtype !== 'float32' || b.dtype !== 'float32') {
    return builtin(args);
  }
  const m = (transposeA ? a.shape[ar - 1] : a.shape[ar - 2]) as number;
  const k = (transposeA ? a.shape[ar - 2] : a.shape[ar - 1]) as number;
  const kb = (transposeB ? b.shape[br - 1] : b.shape[br - 2]) as number;
  const n = (transposeB ? b.shape[br - 2] : b.shape[br - 1]) as number;
  if (k !== kb) {
    throw new Error(
      `matMul inner sizes differ: ${a.shape} × ${b.shape} (transposeA=${transposeA}, transposeB=${transposeB}).`,
    );
  }
  const batch = Math.max(batchA, batchB);
  const outerShape = (batchA >= batchB ? a.shape : b.shape).slice(0, -2);
  const out = backend.makeOutput([...outerShape, m, n], 'float32');
  const aRows = transposeA ? k : m;
  const aCols = transposeA ? m : k;
  const bRows = transposeB ? n : k;
  const bCols = transposeB ? k : n;
  for (let g = 0; g < batch; g++) {
    // Fresh inputs per product: XNNPACK caches its packed operator by the id of b.
    const ta = backend.makeOutput([1, m, k], 'float32');
    const tb = backend.makeOutput([1, k, n], 'float32');
    const ga = batchA === 1 ? 0 : g;
    const gb = batchB === 1 ? 0 : g;
    copyMatrix(f32(backend, a), ga * m * k, aRows, aCols, transposeA, f32(backend, ta));
    copyMatrix(f32(backend, b), gb * k * n, bRows, bCols, transposeB, f32(backend, tb));
    const res = builtin({
      inputs: { a: ta, b: tb },
      backend,
      attrs: { transposeA: false, transposeB: false },
    }) as tf.TensorInfo;
    f32(backend, out).set(f32(backend, res), g * m * n);
    backend.disposeData(res.dataId);
    backend.disposeData(ta.dataId);
    backend.disposeData(tb.dataId);
  }
  return out;
}

/**
 * dW[fh, fw, ci, co] = Σ_{b, y, x} X[b, y·s + fh − padTop, x·s + fw − padLeft, ci] · dY[b, y, x, co]
 * (NHWC, dilation 1), the gradient of conv2d with respect to its filter:
 * im2col in JS (columns [fh·fw·ci, b·y·x]) times dY viewed as [b·y·x, co],
 * one XNNPACK product through the built-in BatchMatMul.
 */
function conv2DBackpropFilter(
  args: {
    inputs: { x: tf.TensorInfo; dy: tf.TensorInfo };
    backend: BackendWasm;
    attrs: {
      strides: [number, number] | number;
      pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
      dataFormat: 'NHWC' | 'NCHW';
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
      filterShape: [number, number, number, number];
    };
  },
  matMul: tf.KernelFunc,
): tf.TensorInfo {
  const { x, dy } = args.inputs;
  const { backend } = args;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs;
  if (dataFormat === 'NCHW') {
    throw new Error('Conv2DBackpropFilter on the WebAssembly backend supports NHWC only.');
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const rows = filterHeight * filterWidth * inChannels;
  const cols = batchSize * outHeight * outWidth;
  const colsT = backend.makeOutput([1, rows, cols], 'float32');
  const dyMat = backend.makeOutput([1, cols, outChannels], 'float32');
  const c = f32(backend, colsT);
  const xv = f32(backend, x);
  f32(backend, dyMat).set(f32(backend, dy));
  c.fill(0);
  for (let bi = 0; bi < batchSize; bi++) {
    for (let yo = 0; yo < outHeight; yo++) {
      for (let xo = 0; xo < outWidth; xo++) {
        const p = (bi * outHeight + yo) * outWidth + xo;
        for (let fh = 0; fh < filterHeight; fh++) {
          const yi = yo * strideHeight + fh - padTop;
          if (yi < 0 || yi >= inHeight) continue;
          for (let fw = 0; fw < filterWidth; fw++) {
            const xi = xo * strideWidth + fw - padLeft;
            if (xi < 0 || xi >= inWidth) continue;
            const xOff = ((bi * inHeight + yi) * inWidth + xi) * inChannels;
            const r0 = (fh * filterWidth + fw) * inChannels;
            for (let ci = 0; ci < inChannels; ci++)
              c[(r0 + ci) * cols + p] = xv[xOff + ci] as number;
          }
        }
      }
    }
  }
  const out = matMul({
    inputs: { a: colsT, b: dyMat },
    backend,
    attrs: { transposeA: false, transposeB: false },
  }) as tf.TensorInfo;
  backend.disposeData(colsT.dataId);
  backend.disposeData(dyMat.dataId);
  out.shape = [...filterShape];
  return out;
}

/** Floats of the columns matrix one slice of {@link conv2DBackpropInput} holds: 64 MB. */
const COLUMN_FLOATS = 16 * 1024 * 1024;

/**
 * dX[b, yi, xi, ci] = Σ_{fh, fw, co} dY[b, yo, xo, co] · W[fh, fw, ci, co] over
 * the (yo, xo) with yo·s + fh − padTop = yi (likewise x), NHWC, dilation 1:
 * the gradient of conv2d with respect to its input, and conv2dTranspose's
 * forward pass. Columns C = dY [b·y·x, co] · Wᵀ [co, fh·fw·ci] by one
 * XNNPACK product, then col2im: each column entry added at its input pixel.
 */
function conv2DBackpropInput(
  args: {
    inputs: { dy: tf.TensorInfo; filter: tf.TensorInfo };
    backend: BackendWasm;
    attrs: {
      strides: [number, number] | number;
      pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
      dataFormat: 'NHWC' | 'NCHW';
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
      inputShape: [number, number, number, number];
    };
  },
  matMul: tf.KernelFunc,
): tf.TensorInfo {
  const { dy, filter } = args.inputs;
  const { backend } = args;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs;
  if (dataFormat === 'NCHW') {
    throw new Error('Conv2DBackpropInput on the WebAssembly backend supports NHWC only.');
  }
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const rows = filterHeight * filterWidth * inChannels;
  const perImage = outHeight * outWidth;
  const slice = Math.max(1, Math.min(batchSize, Math.floor(COLUMN_FLOATS / (perImage * rows))));
  const out = backend.makeOutput([...inputShape], 'float32');
  f32(backend, out).fill(0);
  for (let b0 = 0; b0 < batchSize; b0 += slice) {
    const nb = Math.min(slice, batchSize - b0);
    const m = nb * perImage;
    // Fresh operands per product: XNNPACK caches its packed operator by the id of b.
    const dyMat = backend.makeOutput([1, m, outChannels], 'float32');
    const wT = backend.makeOutput([1, outChannels, rows], 'float32');
    f32(backend, dyMat).set(
      f32(backend, dy).subarray(b0 * perImage * outChannels, (b0 + nb) * perImage * outChannels),
    );
    copyMatrix(f32(backend, filter), 0, rows, outChannels, true, f32(backend, wT));
    const cols = matMul({
      inputs: { a: dyMat, b: wT },
      backend,
      attrs: { transposeA: false, transposeB: false },
    }) as tf.TensorInfo;
    backend.disposeData(dyMat.dataId);
    backend.disposeData(wT.dataId);
    const c = f32(backend, cols);
    const dx = f32(backend, out);
    for (let bi = 0; bi < nb; bi++) {
      const img = (b0 + bi) * inHeight * inWidth * inChannels;
      for (let yo = 0; yo < outHeight; yo++) {
        for (let xo = 0; xo < outWidth; xo++) {
          const r = ((bi * outHeight + yo) * outWidth + xo) * rows;
          for (let fh = 0; fh < filterHeight; fh++) {
            const yi = yo * strideHeight + fh - padTop;
            if (yi < 0 || yi >= inHeight) continue;
            for (let fw = 0; fw < filterWidth; fw++) {
              const xi = xo * strideWidth + fw - padLeft;
              if (xi < 0 || xi >= inWidth) continue;
              const o = img + (yi * inWidth + xi) * inChannels;
              const s = r + (fh * filterWidth + fw) * inChannels;
              for (let ci = 0; ci < inChannels; ci++)
                dx[o + ci] = (dx[o + ci] as number) + (c[s + ci] as number);
            }
          }
        }
      }
    }
    backend.disposeData(cols.dataId);
  }
  return out;
}
