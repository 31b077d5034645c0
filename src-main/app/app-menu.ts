// The application menu. Electron's default menu offers "Toggle Developer
// Tools" and "Reload"; the installed app gets neither.
import type { MenuItemConstructorOptions } from 'electron';

/**
 * The menu to install, or `null` for none. In development Electron's default
 * menu (with DevTools) stays (`'default'`). In production: no menu on Windows
 * and Linux (copy/paste shortcuts work without one there); on macOS, where
 * the shortcuts and Quit live in the menu bar, only the standard app and
 * Edit menus, which hold no DevTools or reload entries.
 */
export function applicationMenu({
  development,
  platform,
}: {
  development: boolean;
  platform: NodeJS.Platform;
}): 'default' | MenuItemConstructorOptions[] | null {
  if (development) return 'default';
  if (platform !== 'darwin') return null;
  return [{ role: 'appMenu' }, { role: 'editMenu' }];
}
