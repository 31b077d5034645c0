import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The data folder (SQLite database, imported arrays, checkpoints): `$DP2_HOME`
 * when set, else the platform's app-data folder. The desktop app and the
 * command line both call this, so they always share one folder.
 */
export function dataHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DP2_HOME) return env.DP2_HOME;
  const appName = 'DP2 Studio';
  switch (process.platform) {
    case 'win32':
      return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), appName);
    case 'darwin':
      return join(homedir(), 'Library', 'Application Support', appName);
    default:
      return join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), appName);
  }
}
