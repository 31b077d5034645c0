import { loadBundledMnist } from '../../src-main/data/mnist';
import { defaultArchitecture, parseArchitecture } from '../../src-main/engine/architecture';
import type { EngineImages } from '../../src-main/engine/batches';

/** The small MLP CVAE the engine tests train: a step on a few dozen digits takes milliseconds. */
export const SMALL_ARCH = parseArchitecture({
  ...defaultArchitecture(),
  encoderHidden: [32, 16],
  decoderHidden: [16, 32],
});

/** The first `n` digits of the bundled MNIST training split, as the engine takes them. */
export function firstDigits(n: number): EngineImages {
  const m = loadBundledMnist().train;
  return { x: m.x.subarray(0, n * 784), y: m.y.subarray(0, n), count: n, height: 28, width: 28 };
}
