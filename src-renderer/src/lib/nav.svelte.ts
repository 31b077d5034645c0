/** The screens of the app; `run` and `export` act on one run. */
export type View = 'budget' | 'datasets' | 'new-run' | 'runs' | 'run' | 'export';

/** Where the app is: one shared, reactive place so any screen can send the user on. */
export const nav = $state<{ view: View; runId: number | null }>({ view: 'budget', runId: null });

export function go(view: View, runId: number | null = nav.runId): void {
  nav.view = view;
  nav.runId = runId;
}
