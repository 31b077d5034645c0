/**
 * What a training step holds per record, counted from the architecture
 * (cvae.ts' forward pass, dpsgd-clip.ts' per-example clipping): the basis of
 * DP-SGD's micro-batch size and of the memory estimate shown before a run
 * (services/estimate-memory.ts). Calibrated on measured steps
 * (docs/methods.md, "Image sizes").
 */
import { convBottleneck, type Architecture } from './architecture';

/**
 * Measured ÷ counted activation bytes of a DP-SGD micro-batch of the conv
 * model at 64×64×1, 128 rows: tf.profile peak 722 MB against 693 MB counted
 * (tensors the count leaves out: the loss terms, reshapes).
 */
const ACTIVATION_SLACK = 1.04;

/**
 * Transient buffers of the conv kernels beside the per-record count (the
 * columns of wasm-kernels.ts' Conv2DBackpropInput, ≤ 64 MB, and its
 * output; XNNPACK's own): what the measured peaks at 128 pixels add.
 */
export const CONV_WORKSPACE_BYTES = 150 * 2 ** 20;

/**
 * Per-record activations one DP-SGD micro-batch may hold: 512 MB. A
 * 128×128 record holds about 18 MB under per-example clipping, so the
 * default 512 rows would ask for 9 GB, past the WebAssembly backend's 4 GB.
 */
export const MICRO_BATCH_BYTES = 512 * 2 ** 20;

/** One layer's output size per record, and (for DP-SGD) its im2col patch and per-example weight gradient. */
interface LayerCost {
  out: number;
  patch: number;
  weight: number;
}

/** The layers of a model in forward order, per record (cvae.ts, dpsgd-clip.ts). */
function layerCosts(arch: Architecture, withEncoder: boolean): LayerCost[] {
  const { height, width, channels } = arch.image;
  const d = height * width * channels;
  const dense = (n: number): LayerCost => ({ out: n, patch: 0, weight: 0 });
  const layers: LayerCost[] = [];
  if (arch.kind === 'mlp-cvae') {
    if (withEncoder)
      for (const w of [...arch.encoderHidden, 2 * arch.latent]) layers.push(dense(w));
    for (const w of [...arch.decoderHidden, d]) layers.push(dense(w));
    return layers;
  }
  const k2 = arch.kernelSize * arch.kernelSize;
  const n = arch.convChannels.length;
  if (withEncoder) {
    let cin = channels;
    arch.convChannels.forEach((cout, i) => {
      const positions = (height >> (i + 1)) * (width >> (i + 1));
      layers.push({ out: positions * cout, patch: positions * k2 * cin, weight: k2 * cin * cout });
      cin = cout;
    });
    layers.push(dense(arch.hidden), dense(2 * arch.latent));
  }
  const bn = convBottleneck(arch);
  layers.push(dense(arch.hidden), dense(bn.height * bn.width * bn.channels));
  const chans = [...arch.convChannels].reverse();
  for (let i = 0; i < n; i++) {
    const cin = chans[i] as number;
    const cout = i + 1 < n ? (chans[i + 1] as number) : channels;
    const inPositions = (height >> (n - i)) * (width >> (n - i));
    const outPositions = inPositions * 4;
    layers.push({
      out: outPositions * cout,
      patch: inPositions * k2 * cout,
      weight: k2 * cin * cout,
    });
  }
  return layers;
}

/**
 * Bytes of one record's activations in a training step: every layer's
 * output kept for the backward pass with its pre-activation, probe and
 * gradients (five copies), the input; with `perExample` (DP-SGD's clipping)
 * the largest layer's im2col patches (a JS copy and a tensor) and every
 * (transposed) convolution's per-example weight gradient with its squares
 * and scaled copy (three copies).
 */
export function activationBytesPerRecord(
  arch: Architecture,
  options: { withEncoder: boolean; perExample: boolean },
): number {
  const layers = layerCosts(arch, options.withEncoder);
  const d = arch.image.height * arch.image.width * arch.image.channels;
  let floats = 2 * d + layers.reduce((n, l) => n + 5 * l.out, 0);
  if (options.perExample) {
    floats += 2 * Math.max(0, ...layers.map((l) => l.patch));
    floats += 3 * layers.reduce((n, l) => n + l.weight, 0);
  }
  return 4 * floats * ACTIVATION_SLACK;
}

/**
 * Rows of one physical DP-SGD micro-batch for this model: as many as fit
 * {@link MICRO_BATCH_BYTES}, at least 8, at most `max` (512 by default). The
 * result of a step does not depend on it (engine/dpsgd.ts).
 */
export function microBatchRows(arch: Architecture, withEncoder: boolean, max = 512): number {
  const per = activationBytesPerRecord(arch, { withEncoder, perExample: true });
  return Math.min(max, Math.max(8, Math.floor(MICRO_BATCH_BYTES / per)));
}
