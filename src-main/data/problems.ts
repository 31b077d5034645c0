import type { ErrorCode } from '../contract/errors';
import { UserError } from '../contract/errors';
import type { ImportProblem } from './types';

/** How many problems of one kind are listed one by one before they are summarised. */
const SHOWN_PER_KIND = 20;

interface KindCount {
  hidden: number;
  last: ImportProblem;
}

/**
 * Collects the problems found during a scan. Problems of one kind beyond the
 * first 20 are counted and summarised in one line, so a folder of 50 000
 * stray files gives a readable list.
 */
export class ProblemLog {
  private readonly shown: { problem: ImportProblem; code: ErrorCode }[] = [];
  private readonly kinds = new Map<string, { shown: number; count: KindCount }>();
  private errorCount = 0;
  private firstErrorCode: ErrorCode | undefined;

  /** Records a problem; `kind` groups similar problems, `code` is the error code it maps to. */
  add(kind: string, problem: ImportProblem, code: ErrorCode = 'INVALID_INPUT'): void {
    if (problem.severity === 'error') {
      this.errorCount++;
      this.firstErrorCode ??= code;
    }
    let k = this.kinds.get(kind);
    if (!k) {
      k = { shown: 0, count: { hidden: 0, last: problem } };
      this.kinds.set(kind, k);
    }
    if (k.shown < SHOWN_PER_KIND) {
      k.shown++;
      this.shown.push({ problem, code });
    } else {
      k.count.hidden++;
      k.count.last = problem;
    }
  }

  /** Shorthand for an error. */
  error(kind: string, file: string, problem: string, action: string, code?: ErrorCode): void {
    this.add(kind, { file, problem, action, severity: 'error' }, code);
  }

  /** Shorthand for a warning. */
  warn(kind: string, file: string, problem: string, action: string): void {
    this.add(kind, { file, problem, action, severity: 'warning' });
  }

  /** Number of errors recorded (including summarised ones). */
  get errors(): number {
    return this.errorCount;
  }

  /** Whether any problem of this kind was recorded. */
  has(kind: string): boolean {
    return this.kinds.has(kind);
  }

  /** All problems, errors first, with one summary line per kind whose extra problems were hidden. */
  list(): ImportProblem[] {
    const out = this.shown.map((s) => s.problem);
    for (const { count } of this.kinds.values()) {
      if (count.hidden === 0) continue;
      out.push({
        file: `${count.hidden} more files (the last: ${count.last.file})`,
        problem: `${count.hidden} more files have the same kind of problem as above: ${count.last.problem}`,
        action: count.last.action,
        severity: count.last.severity,
      });
    }
    const rank = (p: ImportProblem): number => (p.severity === 'error' ? 0 : 1);
    return out
      .map((p, i) => ({ p, i }))
      .sort((a, b) => rank(a.p) - rank(b.p) || a.i - b.i)
      .map((e) => e.p);
  }

  /** Throws a UserError listing the first errors when there is any. */
  throwIfErrors(): void {
    if (this.errorCount === 0) return;
    throw problemsToError(this.list(), this.firstErrorCode ?? 'INVALID_INPUT', this.errorCount);
  }
}

/** Builds the UserError that stops an import: the first few errors in plain words. */
export function problemsToError(
  problems: ImportProblem[],
  code: ErrorCode,
  errorCount: number,
): UserError {
  const errors = problems.filter((p) => p.severity === 'error');
  const first = errors.slice(0, 5).map((p) => `- ${p.file}: ${p.problem} ${p.action}`);
  const more = errorCount > first.length ? `\n…and ${errorCount - first.length} more.` : '';
  const noun = errorCount === 1 ? 'problem that must be fixed' : 'problems that must be fixed';
  return new UserError(
    code,
    `The images cannot be imported: ${errorCount} ${noun} first.\n${first.join('\n')}${more}`,
  );
}
