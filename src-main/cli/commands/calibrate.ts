import { dispatch } from '../../contract/dispatch';
import type { Handlers } from '../../contract';
import { choiceFlag, parseFlags, requireNumber } from '../args';
import type { CliIo } from '../io';
import {
  describeMechanism,
  formatNumber,
  MECHANISM_FLAGS,
  mechanismFromFlags,
} from '../mechanism-flags';
import { unwrap } from '../unwrap';

export const CALIBRATE_USAGE = `Usage:
  dp2 calibrate --mechanism dp2vae --blocks K --steps T --epsilon E --delta D [--accountant rdp|pld] [--json]
  dp2 calibrate --mechanism dpsgd  --q Q      --steps T --epsilon E --delta D [--accountant rdp|pld] [--json]

Prints the smallest noise σ whose privacy spent after T steps stays within
the target ε at δ. The answer is re-checked with a fresh accountant and never
overshoots the target. --accountant pld (privacy loss distributions) is
tighter than the default rdp, and slower.`;

export async function calibrateCommand(
  argv: string[],
  io: CliIo,
  handlers: Handlers,
): Promise<void> {
  const { flags } = parseFlags(argv, {
    ...MECHANISM_FLAGS,
    epsilon: { type: 'string' },
    delta: { type: 'string' },
    accountant: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (flags.help) return io.stdout(CALIBRATE_USAGE + '\n');
  const spec = mechanismFromFlags(flags);
  const epsilon = requireNumber(flags, 'epsilon');
  const delta = requireNumber(flags, 'delta');
  const accountant = choiceFlag(flags, 'accountant', ['rdp', 'pld'] as const, 'rdp');
  const result = unwrap(
    await dispatch(handlers, 'privacy.calibrate', { spec, epsilon, delta, accountant }),
  );
  if (flags.json) {
    io.stdout(JSON.stringify(result) + '\n');
    return;
  }
  io.stdout(
    `σ = ${formatNumber(result.sigma)}\n` +
      `  gives ε = ${formatNumber(result.epsilon)} ≤ ${formatNumber(epsilon)} at δ = ${formatNumber(delta)}` +
      (result.order === null
        ? ` (PLD, ${result.accountant.version})\n`
        : ` (RDP order α = ${formatNumber(result.order)})\n`) +
      `  ${describeMechanism({ ...spec, sigma: result.sigma })}\n`,
  );
}
