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
    ...datasetHandlers(ctx),
    ...runHandlers(ctx),
    ...evaluation,
    // Minutes of tfjs work: in a helper process when there is a window to keep responsive.
    'eval.run': ctx.offload
      ? offloaded(ctx.offload, ctx.dataHome, 'eval.run')
      : evaluation['eval.run'],
  };
}
