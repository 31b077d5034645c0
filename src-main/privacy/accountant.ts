/**
 * An immutable Rényi-DP accountant: it holds the RDP curve of everything
 * composed so far and converts it to (ε, δ) on demand.
 */
import type { PrivacyEvent } from './events';
import { deltaFromRdp, epsilonFromRdp } from './conversion';
import { DEFAULT_ORDERS, validateOrders } from './orders';
import { rdpOfEvent, validateNeighbouring, type NeighbouringRelation } from './rdp';
import { requireInteger } from './validate';

/**
 * The version of the accounting method; privacy certificates cite it. Bump it
 * whenever a change could alter any ε the accountant reports.
 */
export const ACCOUNTANT_VERSION = 'dp2-rdp/1.0.0';

/**
 * An immutable RDP accountant (Mironov 2017; Abadi et al. 2016's moments
 * accountant in RDP form). `compose` returns a new accountant with the event's
 * RDP added (composition theorem, Mironov 2017, Proposition 1); `epsilon` and
 * `delta` convert with the improved RDP → (ε, δ) bound (Balle et al. 2020;
 * Canonne, Kamath, Steinke 2020).
 */
export class RdpAccountant {
  /** The Rényi orders tracked. */
  readonly orders: readonly number[];
  /** The neighbouring relation every composed event is accounted under. */
  readonly neighbouring: NeighbouringRelation;
  /** The accumulated RDP at each order. */
  readonly rdp: readonly number[];

  private constructor(
    orders: readonly number[],
    neighbouring: NeighbouringRelation,
    rdp: readonly number[],
  ) {
    this.orders = orders;
    this.neighbouring = neighbouring;
    this.rdp = Object.freeze([...rdp]);
    Object.freeze(this);
  }

  /**
   * A fresh accountant (no privacy spent) for the given neighbouring relation
   * and orders (default {@link DEFAULT_ORDERS}).
   */
  static create(options: {
    neighbouring: NeighbouringRelation;
    orders?: readonly number[];
  }): RdpAccountant {
    const neighbouring = validateNeighbouring(options?.neighbouring);
    const orders =
      options.orders === undefined || options.orders === DEFAULT_ORDERS
        ? DEFAULT_ORDERS
        : validateOrders(options.orders);
    return new RdpAccountant(orders, neighbouring, new Array<number>(orders.length).fill(0));
  }

  /** A new accountant with `event` composed in, `count` times (default 1). */
  compose(event: PrivacyEvent, options: { count?: number } = {}): RdpAccountant {
    const count = requireInteger('count', options?.count ?? 1, 0);
    const added = rdpOfEvent({ event, neighbouring: this.neighbouring, orders: this.orders });
    const rdp = this.rdp.map((r, k) => r + count * (added[k] as number));
    return new RdpAccountant(this.orders, this.neighbouring, rdp);
  }

  /** The smallest ε for which everything composed so far is (ε, δ)-DP, and its order. */
  epsilon(options: { delta: number }): { epsilon: number; order: number } {
    return epsilonFromRdp({ orders: this.orders, rdp: this.rdp, delta: options?.delta });
  }

  /** The smallest δ for which everything composed so far is (ε, δ)-DP, and its order. */
  delta(options: { epsilon: number }): { delta: number; order: number } {
    return deltaFromRdp({ orders: this.orders, rdp: this.rdp, epsilon: options?.epsilon });
  }
}
