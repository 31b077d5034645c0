import type { Handlers } from '../contract';
import { ACCOUNTANT_VERSION } from '../privacy';
import type { ServiceContext } from './context';
import { datasetHandlers } from './datasets-handlers';
import { privacyHandlers } from './privacy-handlers';
import { appVersion } from './version';

/**
 * The one set of handlers behind the contract, shared by the Electron main
 * process, the end-to-end harness and the command line.
 */
export function createServices(ctx: ServiceContext): Handlers {
  return {
    'app.info': async () => ({
      version: appVersion(),
      accountant: { name: 'rdp', version: ACCOUNTANT_VERSION },
      dataHome: ctx.dataHome,
    }),
    ...privacyHandlers(),
    ...datasetHandlers(ctx),
  };
}
