import { parseArgs } from 'node:util';
import { UsageError } from './io';

export type FlagSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;
export type ParsedFlags = Record<string, string | boolean | undefined>;

/** Parses `--flag value` arguments strictly: unknown flags are usage errors. */
export function parseFlags(
  argv: string[],
  spec: FlagSpec,
  { positionals = 0 }: { positionals?: number } = {},
): { flags: ParsedFlags; positionals: string[] } {
  // `--sigma -1` would read as a flag "-1": glue negative numbers to their flag
  // so the value reaches validation and gets a plain message.
  const args = argv.flatMap((token, i) => {
    const prev = argv[i - 1];
    if (/^-\d/.test(token) && prev?.startsWith('--') && spec[prev.slice(2)]?.type === 'string')
      return [];
    const next = argv[i + 1];
    if (
      token.startsWith('--') &&
      spec[token.slice(2)]?.type === 'string' &&
      next !== undefined &&
      /^-\d/.test(next)
    ) {
      return [`${token}=${next}`];
    }
    return [token];
  });
  try {
    const { values, positionals: rest } = parseArgs({
      args,
      options: { ...spec, help: { type: 'boolean', short: 'h' } },
      allowPositionals: positionals > 0,
      strict: true,
    });
    if (rest.length > positionals)
      throw new UsageError(`unexpected argument "${rest[positionals]}"`);
    return { flags: values as ParsedFlags, positionals: rest };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // node:util's messages are already specific ("Unknown option '--x'")
    throw new UsageError((err as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
}

export function requireString(flags: ParsedFlags, name: string): string {
  const value = flags[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

/** A number flag; malformed text is bad usage, range checks are the contract's. */
export function numberFlag(
  flags: ParsedFlags,
  name: string,
  { required = false } = {},
): number | undefined {
  const value = flags[name];
  if (value === undefined) {
    if (required) throw new UsageError(`--${name} is required`);
    return undefined;
  }
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(Number(value))) {
    throw new UsageError(`--${name} must be a number, got "${String(value)}"`);
  }
  return Number(value);
}

export function requireNumber(flags: ParsedFlags, name: string): number {
  return numberFlag(flags, name, { required: true }) as number;
}

export function choiceFlag<T extends string>(
  flags: ParsedFlags,
  name: string,
  choices: readonly T[],
  fallback?: T,
): T {
  const value = flags[name] ?? fallback;
  if (value === undefined) throw new UsageError(`--${name} is required (${choices.join(' or ')})`);
  if (typeof value !== 'string' || !choices.includes(value as T)) {
    throw new UsageError(`--${name} must be ${choices.join(' or ')}, got "${String(value)}"`);
  }
  return value as T;
}
