import type { Handlers } from '../contract';
import { UserError } from '../contract/errors';
import { ACCOUNTANT_VERSION } from '../privacy';
import type { ServiceContext } from './context';
import { datasetHandlers } from './datasets-handlers';
import { evalHandlers } from './eval-handlers';
import { offloaded } from './offload';
import { privacyHandlers } from './privacy-handlers';
import { runHandlers } from './runs-handlers';
import { appVersion } from './version';

/**
 * The one set of handlers behind the contract, shared by the Electron main
 * process, the end-to-end harness and the command line.
 */
export function createServices(ctx: ServiceContext): Handlers {
  const evaluation = evalHandlers(ctx);
  const datasets = datasetHandlers(ctx);
  return {
    'app.info': async () => ({
      version: appVersion(),
      accountant: { name: 'rdp', version: ACCOUNTANT_VERSION },
      dataHome: ctx.dataHome,
    }),
    'app.choosePath': async ({ purpose }) => {
      if (!ctx.choosePath) {
        throw new UserError('UNSUPPORTED', 'There is no file picker here: type the path instead.');
      }
      return { path: await ctx.choosePath(purpose) };
    },
    ...privacyHandlers(),
    ...datasets,
    // Untrusted files are parsed in a helper process when there is one: a hostile file can at
    // worst end the helper, never the process that holds the window and the database.
    'datasets.preview': ctx.offload
      ? offloaded(ctx.offload, ctx.dataHome, 'datasets.preview')
      : datasets['datasets.preview'],
    ...runHandlers(ctx),
    ...evaluation,
    // Minutes of tfjs work: in a helper process when there is a window to keep responsive.
    'eval.run': ctx.offload
      ? offloaded(ctx.offload, ctx.dataHome, 'eval.run')
      : evaluation['eval.run'],
  };
}
