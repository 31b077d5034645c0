import type { Handlers } from '../../contract';
import type { ServiceContext } from '../../services/context';
import { UsageError } from '../io';
import type { CliIo } from '../io';
import { trainCommand } from './train';

export const CLASSIFY_USAGE = `Usage:
  dp2 classify --dataset NAME --epsilon E [--delta D] [--preset quick|paper|high-privacy]
               [--out DIR] [--json] [the randp settings of dp2 train]

Trains a private classifier (the method randp: the random-process prior's
features, then a linear classifier trained with DP-SGD) and, with --out,
writes DIR/classifier (weights and a model card: classes, input size, the
prior's SHA-256, the privacy spent) and DIR/certificate.json. The same as
"dp2 train --method randp"; every flag of dp2 train applies (docs/classifier.md).
Apply the classifier with "dp2 predict --model DIR/classifier --in X.npz --out P.npz".`;

/** `dp2 classify`: `dp2 train --method randp` under the name the task has. */
export async function classifyCommand(
  argv: string[],
  io: CliIo,
  handlers: Handlers,
  ctx: ServiceContext,
): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) return io.stdout(CLASSIFY_USAGE + '\n');
  const method = argv.findIndex((a) => a === '--method' || a.startsWith('--method='));
  if (method >= 0) {
    throw new UsageError(
      'dp2 classify always trains the private classifier (randp); for another method use dp2 train --method',
    );
  }
  return trainCommand(['--method', 'randp', ...argv], io, handlers, ctx);
}
