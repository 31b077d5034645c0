import type { Handlers } from '../contract';
import { ACCOUNTANT_VERSION } from '../privacy';
import { privacyHandlers } from './privacy-handlers';
import { appVersion } from './version';

export interface ServiceOptions {
  /** The data folder (database, arrays, checkpoints); see `dataHome()`. */
  dataHome: string;
}

/**
 * The one set of handlers behind the contract, shared by the Electron main
 * process, the end-to-end harness and the command line.
 */
export function createServices({ dataHome }: ServiceOptions): Handlers {
  return {
    'app.info': async () => ({
      version: appVersion(),
      accountant: { name: 'rdp', version: ACCOUNTANT_VERSION },
      dataHome,
    }),
    ...privacyHandlers(),
  };
}
