/**
 * Kernels the evaluation registers on tfjs's WebAssembly backend, under
 * names of its own (the engine's kernels are untouched). Both run in JS
 * directly on the wasm heap, so nothing is copied in or out:
 *
 * - `Dp2EvalIm2colT`: the transposed im2col matrix of a convolution
 *   (conv.ts, `im2colColumns`), for the filter gradient of the downstream
 *   CNN as one XNNPACK matrix product.
 * - `Dp2EvalInterleave`: the interleaving of the sub-pixel phases of a
 *   convolution's input gradient (conv.ts), one pass instead of two tf.stack.
 * - `Dp2EvalAdam`: one Adam step of a variable (train.ts) in a single pass
 *   over its values instead of about fifteen tfjs kernels, each a pass of
 *   its own: measured on the development machine, ≈ 1.5 ms less per MLP
 *   step (1 900 steps per seed).
 *
 * Heap views are taken after every allocation (growing wasm memory detaches
 * earlier views).
 */
import * as tf from '@tensorflow/tfjs';
import { im2colColumns, type ConvGeometry } from './conv';

type WasmBackendLike = {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
};

const IM2COL_KERNEL = 'Dp2EvalIm2colT';
const ADAM_KERNEL = 'Dp2EvalAdam';
const INTERLEAVE_KERNEL = 'Dp2EvalInterleave';
let registered = false;

function register(): void {
  if (registered) return;
  tf.registerKernel({
    kernelName: IM2COL_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const wasm = backend as unknown as WasmBackendLike;
      const g = (attrs as unknown as { geometry: ConvGeometry }).geometry;
      const rows = g.kernel * g.kernel * g.inC;
      const out = wasm.makeOutput([rows, g.batch * g.outH * g.outW], 'float32');
      im2colColumns(
        wasm.typedArrayFromHeap(inputs.x as tf.TensorInfo),
        g,
        wasm.typedArrayFromHeap(out),
      );
      return out;
    },
  });
  tf.registerKernel({
    kernelName: ADAM_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const wasm = backend as unknown as WasmBackendLike;
      const a = attrs as unknown as AdamStep;
      const shape = (inputs.w as tf.TensorInfo).shape;
      const outs = [0, 1, 2].map(() => wasm.makeOutput(shape, 'float32'));
      const [w, g, m, v] = (['w', 'g', 'm', 'v'] as const).map((k) =>
        wasm.typedArrayFromHeap(inputs[k] as tf.TensorInfo),
      ) as [Float32Array, Float32Array, Float32Array, Float32Array];
      const [w2, m2, v2] = outs.map((t) => wasm.typedArrayFromHeap(t)) as [
        Float32Array,
        Float32Array,
        Float32Array,
      ];
      const { lr, beta1: b1, beta2: b2, eps, c1, c2 } = a;
      for (let i = 0; i < w.length; i++) {
        const gi = g[i] as number;
        const mi = b1 * (m[i] as number) + (1 - b1) * gi;
        const vi = b2 * (v[i] as number) + (1 - b2) * gi * gi;
        m2[i] = mi;
        v2[i] = vi;
        w2[i] = (w[i] as number) - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
      }
      return outs;
    },
  });
  tf.registerKernel({
    kernelName: INTERLEAVE_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const wasm = backend as unknown as WasmBackendLike;
      const s = (attrs as unknown as { stride: number }).stride;
      const phases = Object.keys(inputs)
        .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
        .map((name) => inputs[name] as tf.TensorInfo);
      const [batch = 0, ph = 0, pw = 0, c = 0] = (phases[0] as tf.TensorInfo).shape;
      const out = wasm.makeOutput([batch, ph * s, pw * s, c], 'float32');
      const o = wasm.typedArrayFromHeap(out);
      const W = pw * s;
      phases.forEach((t, n) => {
        const src = wasm.typedArrayFromHeap(t);
        const py = Math.floor(n / s);
        const px = n % s;
        let i = 0;
        for (let b = 0; b < batch; b++) {
          for (let y = 0; y < ph; y++) {
            let d = ((b * ph * s + y * s + py) * W + px) * c;
            for (let x = 0; x < pw; x++, d += s * c) {
              for (let k = 0; k < c; k++) o[d + k] = src[i++] as number;
            }
          }
        }
      });
      return out;
    },
  });
  registered = true;
}

/** Whether tfjs runs on the WebAssembly backend now. */
export function onWasm(): boolean {
  return tf.getBackend() === 'wasm';
}

/** im2colColumns of x as a [k·k·C, B·OH·OW] tensor, built on the wasm heap. Call only on wasm. */
export function im2colColumnsOnWasm(x: tf.Tensor4D, g: ConvGeometry): tf.Tensor2D {
  register();
  return tf
    .engine()
    .runKernel(IM2COL_KERNEL, { x }, { geometry: g } as unknown as tf.NamedAttrMap) as tf.Tensor2D;
}

/**
 * Interleaves s² phase images [B, H/s, W/s, C] (row-major order of the phase
 * (py, px): index py·s + px) into [B, H, W, C], phase (py, px) at pixels
 * (y·s + py, x·s + px): one pass instead of two tf.stack calls. Call only on wasm.
 */
export function interleaveOnWasm(phases: readonly tf.Tensor4D[], stride: number): tf.Tensor4D {
  register();
  const inputs: tf.NamedTensorMap = {};
  phases.forEach((p, i) => (inputs[`p${i}`] = p));
  return tf
    .engine()
    .runKernel(INTERLEAVE_KERNEL, inputs, { stride } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

/** The constants of one Adam step. */
export interface AdamStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Bias corrections 1 − β₁ᵗ and 1 − β₂ᵗ. */
  c1: number;
  c2: number;
}

/**
 * One Adam step of w with gradient g and moments m, v: returns [w', m', v']
 * (new tensors; the inputs are left as they are). Call only on wasm.
 */
export function adamStepOnWasm(
  w: tf.Tensor,
  g: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  step: AdamStep,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  register();
  return tf.engine().runKernel(ADAM_KERNEL, { w, g, m, v }, step as unknown as tf.NamedAttrMap) as [
    tf.Tensor,
    tf.Tensor,
    tf.Tensor,
  ];
}
