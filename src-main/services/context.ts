import { join } from 'node:path';
import { closeStore, markInterruptedRuns, openStore, purgePendingRemovals } from '../store';
import type { Store } from '../store';

/** The database file inside the data home. */
export const DATABASE_FILE = 'dp2.sqlite';

/**
 * What the services share: the data home and one store connection, opened on
 * first use (so `dp2 account` never creates a database) with the start-up
 * housekeeping the store asks for.
 */
/** The desktop shell's file pickers; absent in the command line and the test harness. */
export type PathChooser = (
  purpose: 'import-folder' | 'import-file' | 'export-folder',
) => Promise<string | null>;

export class ServiceContext {
  private opened: Store | undefined;

  constructor(
    readonly dataHome: string,
    readonly choosePath?: PathChooser,
  ) {}

  get store(): Store {
    if (!this.opened) {
      const store = openStore({ path: join(this.dataHome, DATABASE_FILE), home: this.dataHome });
      markInterruptedRuns(store);
      purgePendingRemovals(store);
      this.opened = store;
    }
    return this.opened;
  }

  close(): void {
    if (this.opened) closeStore(this.opened);
    this.opened = undefined;
  }
}
