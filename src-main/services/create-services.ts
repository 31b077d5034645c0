import type { Handlers } from '../contract';
import { toErrorPayload, UserError } from '../contract/errors';
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
  const runs = runHandlers(ctx);
  return {
    'app.info': async () => {
      const notices: string[] = [];
      // Opening the data folder is what can find something to say. A damaged
      // database is moved aside by the first try; the second makes the new
      // one and restores the ledger into it.
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          void ctx.store;
          break;
        } catch (err) {
          const error = toErrorPayload(err);
          notices.push(error.message);
          if (error.code !== 'CORRUPT_DATA') break;
        }
      }
      return {
        version: appVersion(),
        accountant: { name: 'rdp', version: ACCOUNTANT_VERSION },
        dataHome: ctx.dataHome,
        notices: [...notices, ...ctx.notices.splice(0)],
      };
    },
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
    // The import parses the same files, then writes the data set on the helper's own
    // connection to the store (one transaction; its claimed folder is cleaned if it dies).
    'datasets.import': ctx.offload
      ? offloaded(ctx.offload, ctx.dataHome, 'datasets.import')
      : datasets['datasets.import'],
    ...runs,
    ...evaluation,
    // Minutes of tfjs work: in a helper process when there is a window to keep responsive.
    'eval.run': ctx.offload
      ? offloaded(ctx.offload, ctx.dataHome, 'eval.run')
      : evaluation['eval.run'],
    // Generating images runs the generator (for a one-shot release, several candidates per
    // image, filtered): seconds to minutes of tfjs work, also kept off the window's process.
    'runs.generate': ctx.offload
      ? offloaded(ctx.offload, ctx.dataHome, 'runs.generate')
      : runs['runs.generate'],
    'runs.export': ctx.offload
      ? offloaded(ctx.offload, ctx.dataHome, 'runs.export')
      : runs['runs.export'],
  };
}
