/**
 * A trainer's parameters as one flat vector, with the optimiser's state.
 *
 * Why flat: Adam (and SGD) are element-wise, so one update of the whole
 * vector is a few kernels instead of a few per parameter tensor; and worker
 * threads read the parameters from one block of shared memory
 * (dpsgd-threads.ts), written once after each update. Checkpoints keep one
 * array per parameter, as before.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../contract/errors';
import type { ParamSpec } from './architecture';
import { disposeOptimizer, optimizerStep, type OptimizerKind, type OptimizerState } from './optim';
import { disposeAll } from './params';

/** An optimiser's state as one array per parameter (the checkpoints' layout). */
export interface OptimizerArrays {
  kind: OptimizerKind;
  t: number;
  m: Float32Array[];
  v: Float32Array[];
}

/** Encoder (if any) then decoder parameters, flat in spec order, and their optimiser. */
export class FlatParams {
  /** The parameters; in shared memory when threads read them. */
  readonly values: Float32Array;
  /** Each parameter's shape ([1, ...spec shape]). */
  readonly shapes: readonly number[][];
  /** Parameter tensors of the encoder network (the first ones; 0 without one). */
  readonly nEnc: number;
  private opt: OptimizerState;

  /**
   * `encoder` and `decoder`: one array per parameter of `shapes`; `opt` with
   * empty moments starts Adam from zeros.
   */
  constructor(p: {
    shapes: number[][];
    encoder: readonly Float32Array[];
    decoder: readonly Float32Array[];
    opt: OptimizerArrays;
    shared: boolean;
  }) {
    this.shapes = p.shapes;
    this.nEnc = p.encoder.length;
    const d = p.shapes.reduce((n, s) => n + sizeOf(s), 0);
    this.values = p.shared ? new Float32Array(new SharedArrayBuffer(4 * d)) : new Float32Array(d);
    joinInto(this.values, [...p.encoder, ...p.decoder]);
    // Adam's moments, each one flat tensor like the parameters.
    const moments = (list: readonly Float32Array[]): tf.Tensor[] => {
      if (list.length === 0) return [tf.zeros([d])];
      const flat = new Float32Array(d);
      joinInto(flat, list);
      return [tf.tensor1d(flat)];
    };
    this.opt =
      p.opt.kind === 'adam'
        ? { kind: 'adam', t: p.opt.t, m: moments(p.opt.m), v: moments(p.opt.v) }
        : { kind: 'sgd', t: p.opt.t, m: [], v: [] };
  }

  /** Number of parameters. */
  get size(): number {
    return this.values.length;
  }

  /** Parameters of the encoder network (the first coordinates of the vector). */
  get encoderSize(): number {
    return this.shapes.slice(0, this.nEnc).reduce((n, s) => n + sizeOf(s), 0);
  }

  /** A flat vector of this layout as one copied array per parameter. */
  arrays(flat: Float32Array = this.values): Float32Array[] {
    let off = 0;
    return this.shapes.map((shape) => {
      const size = sizeOf(shape);
      off += size;
      return flat.slice(off - size, off);
    });
  }

  /** The parameters as tensors (the caller disposes them). */
  tensors(): { encoder: tf.Tensor[]; decoder: tf.Tensor[] } {
    const all = tensorsOf(this.values, this.shapes);
    return { encoder: all.slice(0, this.nEnc), decoder: all.slice(this.nEnc) };
  }

  /** One optimiser step on the whole vector with gradient `grad` (flat, same layout). */
  update(grad: Float32Array, how: { kind: OptimizerKind; lr: number }): void {
    const g = tf.tensor1d(grad);
    const upd = optimizerStep([tf.tensor1d(this.values)], [g], this.opt, how);
    g.dispose();
    this.opt = upd.state;
    this.values.set((upd.params[0] as tf.Tensor).dataSync() as Float32Array);
    disposeAll(upd.params);
  }

  /** The optimiser's state, one array per parameter. */
  optimizerArrays(): OptimizerArrays {
    const adam = this.opt.kind === 'adam';
    const read = (ts: tf.Tensor[]): Float32Array[] =>
      adam ? this.arrays((ts[0] as tf.Tensor).dataSync() as Float32Array) : [];
    return { kind: this.opt.kind, t: this.opt.t, m: read(this.opt.m), v: read(this.opt.v) };
  }

  /** Frees the optimiser's tensors. */
  dispose(): void {
    disposeOptimizer(this.opt);
    this.opt = { ...this.opt, m: [], v: [] };
  }
}

/**
 * A checkpoint's arrays (one per parameter of `specs`), or CORRUPT_DATA in
 * plain words when they do not fit the model; `what` names them.
 */
export function checkedArrays(
  list: Float32Array[],
  specs: readonly ParamSpec[],
  what: string,
): Float32Array[] {
  if (list.length !== specs.length || list.some((a, i) => a.length !== sizeOf(specs[i]!.shape)))
    throw new UserError('CORRUPT_DATA', `The checkpoint's ${what} do not match the model.`);
  return list;
}

/** Tensors of `shapes` made from consecutive ranges of `flat` (the caller disposes them). */
export function tensorsOf(flat: Float32Array, shapes: readonly number[][]): tf.Tensor[] {
  let off = 0;
  return shapes.map((shape) => {
    const size = sizeOf(shape);
    off += size;
    return tf.tensor(flat.subarray(off - size, off), shape, 'float32');
  });
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function joinInto(out: Float32Array, arrays: readonly Float32Array[]): void {
  let off = 0;
  for (const a of arrays) {
    out.set(a, off);
    off += a.length;
  }
  if (off !== out.length) throw new RangeError('The arrays do not fill the vector.');
}
