import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { dispatch } from '../../contract/dispatch';
import type { Handlers } from '../../contract';
import { UserError } from '../../contract/errors';
import { choiceFlag, numberFlag, parseFlags, requireNumber } from '../args';
import type { CliIo } from '../io';
import {
  describeMechanism,
  formatNumber,
  MECHANISM_FLAGS,
  mechanismFromFlags,
} from '../mechanism-flags';
import { unwrap } from '../unwrap';
import { recheckCertificate } from '../../privacy/certificate';

export const ACCOUNT_USAGE = `Usage:
  dp2 account --mechanism dp2vae --blocks K --sigma S --steps T --delta D [--accountant rdp|pld] [--json]
  dp2 account --mechanism dpsgd  --q Q      --sigma S --steps T --delta D [--accountant rdp|pld] [--json]
  dp2 account --batch cases.json --json [--accountant rdp|pld]
  dp2 account --certificate certificate.json

Prints the privacy spent (ε at the given δ) by a training plan: with the RDP
accountant (default) and the order that gives the bound, or with the tighter
PLD accountant (privacy loss distributions, FFT composition). For dp2vae, σ is the paper's: noise σC on the
clipped batch mean of one of K blocks (replace-one). For dpsgd, σ is the noise
multiplier of the per-example clip under Poisson sampling at rate q (add/remove).
--certificate recomputes every ε a DP² Studio certificate states from its own
fields (for images labelled by a private classifier: each part and both
composed) and says whether they match.
Batch file: a JSON array of {"id", "mechanism": "dpsgd", "q", "sigma", "steps", "delta"}
or {"id", "mechanism": "dp2vae", "blocks", "sigma", "steps", "delta"}.`;

export async function accountCommand(argv: string[], io: CliIo, handlers: Handlers): Promise<void> {
  const { flags } = parseFlags(argv, {
    ...MECHANISM_FLAGS,
    sigma: { type: 'string' },
    delta: { type: 'string' },
    batch: { type: 'string' },
    certificate: { type: 'string' },
    accountant: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (flags.help) return io.stdout(ACCOUNT_USAGE + '\n');
  if (typeof flags.certificate === 'string') return recheck(flags.certificate, io);
  const accountant = choiceFlag(flags, 'accountant', ['rdp', 'pld'] as const, 'rdp');
  if (typeof flags.batch === 'string')
    return accountBatch(flags.batch, { json: Boolean(flags.json), accountant }, io, handlers);

  const spec = { ...mechanismFromFlags(flags), sigma: requireNumber(flags, 'sigma') };
  const delta = numberFlag(flags, 'delta', { required: true }) as number;
  const result = unwrap(await dispatch(handlers, 'privacy.account', { spec, delta, accountant }));
  if (flags.json) {
    io.stdout(JSON.stringify(result) + '\n');
    return;
  }
  io.stdout(
    `ε = ${formatNumber(result.epsilon)} at δ = ${formatNumber(delta)}\n` +
      `  ${describeMechanism(spec)}\n` +
      (result.order === null
        ? `  accountant: PLD (${result.accountant.version})\n`
        : `  accountant: RDP (${result.accountant.version}), best order α = ${formatNumber(result.order)}\n`),
  );
}

interface BatchCaseIn {
  id?: unknown;
  mechanism?: unknown;
  q?: unknown;
  blocks?: unknown;
  sigma?: unknown;
  steps?: unknown;
  delta?: unknown;
}

async function accountBatch(
  path: string,
  { json, accountant }: { json: boolean; accountant: 'rdp' | 'pld' },
  io: CliIo,
  handlers: Handlers,
): Promise<void> {
  const file = resolve(io.cwd, path);
  const raw = readJsonFile(file, 'the batch file');
  if (!Array.isArray(raw)) {
    throw new UserError('INVALID_INPUT', `The batch file ${file} must hold a JSON array of cases.`);
  }
  const cases = (raw as BatchCaseIn[]).map((c, index) => {
    if (typeof c !== 'object' || c === null) {
      throw new UserError('INVALID_INPUT', `Case ${index} in ${file} is not an object.`);
    }
    const { id = index, mechanism, q, blocks, sigma, steps, delta, ...rest } = c;
    const extra = Object.keys(rest);
    if (extra.length) {
      throw new UserError(
        'INVALID_INPUT',
        `Case ${String(id)} in ${file} has unknown field(s): ${extra.join(', ')}.`,
      );
    }
    const spec =
      mechanism === 'dpsgd'
        ? { mechanism, sampleRate: q, sigma, steps }
        : { mechanism, blocks, sigma, steps };
    return { id, spec, delta };
  });
  const results = unwrap(await dispatch(handlers, 'privacy.accountBatch', { cases, accountant }));
  if (json) {
    io.stdout(JSON.stringify(results) + '\n');
    return;
  }
  for (const r of results)
    io.stdout(`${String(r.id)}\tε = ${formatNumber(r.epsilon)}\torder ${r.order ?? '—'}\n`);
}

/** `--certificate FILE`: every ε the file states, recomputed; refused when one differs. */
function recheck(path: string, io: CliIo): void {
  const file = resolve(io.cwd, path);
  const cert = readJsonFile(file, 'the certificate');
  if (typeof cert !== 'object' || cert === null || Array.isArray(cert))
    throw new UserError('INVALID_INPUT', `${file} is not a privacy certificate (a JSON object).`);
  const rows = recheckCertificate(cert as Record<string, unknown>);
  let wrong = 0;
  for (const r of rows) {
    const same = Math.abs(r.stated - r.recomputed) <= 1e-6 * Math.max(1, r.recomputed);
    if (!same) wrong++;
    io.stdout(
      `${r.part}: ε = ${formatNumber(r.stated)} stated, ${formatNumber(r.recomputed)} recomputed${same ? '' : ' — DIFFERENT'}\n`,
    );
  }
  if (wrong > 0)
    throw new UserError(
      'CORRUPT_DATA',
      `${wrong} of the ε in ${file} do not follow from its own fields: the certificate was altered or damaged. Do not rely on it.`,
    );
  io.stdout('Every ε in the certificate follows from its own fields.\n');
}

/** A JSON file's value, or a plain refusal naming `what` it should have been. */
function readJsonFile(file: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch (err) {
    const why =
      (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'it does not exist'
        : (err as Error).message;
    throw new UserError('INVALID_INPUT', `Cannot read ${what} ${file}: ${why}.`);
  }
}
