// One DP² Studio at a time: a second start hands over to the running one,
// which brings its window to the front, and then quits.

/** What the running app does with its window when a second start is refused. */
export type FocusStep = 'create-window' | 'restore' | 'show' | 'focus';

/**
 * The steps that bring the running app's window to the user: a new one if
 * it has none (macOS keeps running without windows), else un-minimise and
 * show it as needed, then focus it.
 */
export function secondInstanceSteps(
  window: { minimized: boolean; visible: boolean } | null,
): FocusStep[] {
  if (window === null) return ['create-window'];
  const steps: FocusStep[] = [];
  if (window.minimized) steps.push('restore');
  if (!window.visible) steps.push('show');
  steps.push('focus');
  return steps;
}
