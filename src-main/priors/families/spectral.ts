/**
 * Spectral noise (the "spectrum" family of Baradad et al. 2021): a Gaussian
 * random field whose power spectrum falls as a power law, P(f) ∝ f^−α, with a
 * random orientation and anisotropy, passed through a random colour map.
 * Natural images have α ≈ 2; α is drawn in [1.5, 4.5], so the family spans
 * grainy to cloudy textures.
 *
 * The field is made by shaping complex white noise in the frequency domain
 * and taking the real part of its inverse FFT (that keeps the power spectrum,
 * halved, because the amplitude is symmetric in f ↔ −f). The FFT needs a
 * power of two, so the field is drawn at the next one and a random window of
 * the asked size is cut out (which also removes the field's periodicity).
 */
import type { SeededRng } from '../../engine/rng';
import { ColourMap, fft2d, nextPow2, standardise, toUnit, uniform } from './common';

/** The random parameters of one spectral image. */
export interface SpectralParams {
  /** Exponent of the power spectrum: P(f) ∝ f^−alpha. */
  alpha: number;
  /** Orientation of the anisotropy, radians. */
  angle: number;
  /** Ratio of the two axes' frequency scales (1 = isotropic). */
  aspect: number;
}

/** Draws the parameters of one image. */
export function drawSpectralParams(rng: SeededRng): SpectralParams {
  return {
    alpha: uniform(rng, 1.5, 4.5),
    angle: uniform(rng, 0, Math.PI),
    // Log-uniform in [1, 4]: most images mildly anisotropic, some streaky.
    aspect: Math.exp(uniform(rng, 0, Math.log(4))),
  };
}

/**
 * An n×n standardised Gaussian field with power spectrum ∝ f_eff^−alpha,
 * where f_eff rescales the rotated frequency axes by √aspect and 1/√aspect
 * (n a power of two). Exported for the spectrum checks in the tests.
 */
export function spectralField(rng: SeededRng, n: number, p: SpectralParams): Float64Array {
  const re = new Float64Array(n * n);
  const im = new Float64Array(n * n);
  rng.fillNormal(re);
  rng.fillNormal(im);
  const c = Math.cos(p.angle);
  const s = Math.sin(p.angle);
  const sa = Math.sqrt(p.aspect);
  const halfExp = -p.alpha / 4; // amplitude = power^(1/2) = (f²)^(−alpha/4)
  for (let ky = 0; ky < n; ky++) {
    const fy = ky < n / 2 ? ky : ky - n;
    for (let kx = 0; kx < n; kx++) {
      const fx = kx < n / 2 ? kx : kx - n;
      const i = ky * n + kx;
      if (fx === 0 && fy === 0) {
        re[i] = 0;
        im[i] = 0;
        continue;
      }
      const u = (fx * c + fy * s) * sa;
      const v = (-fx * s + fy * c) / sa;
      const amp = (u * u + v * v) ** halfExp;
      re[i] = (re[i] as number) * amp;
      im[i] = (im[i] as number) * amp;
    }
  }
  fft2d(re, im, n, true);
  standardise(re);
  return re;
}

/** Renders one spectral-noise image into an RGB float canvas (size·size·3, [0, 1]). */
export function renderSpectral(rng: SeededRng, size: number, out: Float32Array): void {
  const params = drawSpectralParams(rng);
  const n = nextPow2(size);
  const field = spectralField(rng, n, params);
  const ox = rng.nextInt(n - size + 1);
  const oy = rng.nextInt(n - size + 1);
  const crop = new Float64Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) crop[y * size + x] = field[(y + oy) * n + x + ox] as number;
  }
  // The window's own mean and spread, so every image uses its whole colour map.
  standardise(crop);
  const map = new ColourMap(rng);
  for (let i = 0; i < size * size; i++) map.write(toUnit(crop[i] as number), out, i * 3);
}
