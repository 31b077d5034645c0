import type { Progress } from '../contract';
import type { CliIo } from './io';

/**
 * Progress on stderr (stdout stays clean for --json): a redrawn bar on a
 * terminal, a plain line every 10 % otherwise.
 */
export function progressPrinter(io: CliIo): {
  report: (p: Progress & { detail?: string }) => void;
  end: () => void;
} {
  let lastTenth = -1;
  let lastTask = '';
  let drawn = false;
  return {
    report({ task, done, total, detail }) {
      const fraction = total > 0 ? Math.min(1, done / total) : 0;
      if (io.isTTY) {
        const width = 30;
        const filled = Math.round(fraction * width);
        io.stderr(
          `\r${task} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`,
        );
        drawn = true;
        return;
      }
      const tenth = Math.floor(fraction * 10);
      if (task !== lastTask || tenth > lastTenth) {
        io.stderr(
          `${task}: ${done}/${total} (${Math.round(fraction * 100)} %)${detail ? ` ${detail}` : ''}\n`,
        );
        lastTenth = tenth;
        lastTask = task;
      }
    },
    end() {
      if (drawn) io.stderr('\n');
      drawn = false;
    },
  };
}
