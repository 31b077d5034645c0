import { DEFAULT_READ_BUDGET_BYTES } from './limits';

/**
 * The bytes of files held in memory during one scan (read or inflated, not
 * yet decoded), shared by its concurrent reads: a bound per operation rather
 * than per file. Readers take bytes before they allocate; the scan gives them
 * back once a file is decoded. One file larger than the whole budget is still
 * read, alone (each file is also bounded by the largest file size).
 */
export class ReadBudget {
  /** Bytes held now. */
  inFlight = 0;
  /** The most bytes held at once so far (for tests and benchmarks). */
  peak = 0;

  constructor(readonly limit: number = DEFAULT_READ_BUDGET_BYTES) {}

  /** Whether `bytes` more may be taken now (always, when nothing is held). */
  fits(bytes: number): boolean {
    return this.inFlight === 0 || this.inFlight + bytes <= this.limit;
  }

  /** Records `bytes` as held. */
  take(bytes: number): void {
    this.inFlight += bytes;
    if (this.inFlight > this.peak) this.peak = this.inFlight;
  }

  /** Gives back `bytes` taken earlier. */
  give(bytes: number): void {
    this.inFlight = Math.max(0, this.inFlight - bytes);
  }
}
