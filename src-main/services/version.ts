import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The app's version from package.json (cited in certificates and `dp2 --version`). */
export function appVersion(): string {
  if (cached === undefined) {
    try {
      const url = new URL('../../package.json', import.meta.url);
      cached = (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
    } catch {
      cached = '0.0.0';
    }
  }
  return cached;
}
