/**
 * The renderer's Content-Security-Policy: only the app's own scripts and
 * styles, images from data:/blob: (sample grids), no network at all.
 * 'wasm-unsafe-eval' is not needed: tfjs runs in the main-side job process,
 * never in the renderer.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');
