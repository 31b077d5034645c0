import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePng, loadBundledMnist } from '../../src-main/data';

/** Writes `perClass` bundled-MNIST digits of each class as `DIR/<digit>/img-N.png`. */
export function writeDigitFolder(dir: string, perClass: number): void {
  const mnist = loadBundledMnist().train;
  const seen = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < mnist.count && total < 10 * perClass; i++) {
    const label = mnist.y[i] ?? 0;
    const n = seen.get(label) ?? 0;
    if (n >= perClass) continue;
    seen.set(label, n + 1);
    total++;
    mkdirSync(join(dir, String(label)), { recursive: true });
    const data = mnist.x.slice(i * 784, (i + 1) * 784);
    writeFileSync(
      join(dir, String(label), `img-${n}.png`),
      encodePng({ width: 28, height: 28, channels: 1, data }),
    );
  }
}
