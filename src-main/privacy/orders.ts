/**
 * Rényi orders α at which the accountant tracks privacy.
 */
import { MAX_ORDER } from './numeric';
import { invalid } from './validate';

function buildDefaultOrders(): readonly number[] {
  const orders: number[] = [];
  // 1.1, 1.2, …, 10.9 built as (11 + i) / 10 so that no floating drift creeps in
  // (and 2.0, 3.0, … are exact integers that take the integer-order formulas).
  for (let i = 0; i < 99; i++) orders.push((11 + i) / 10);
  for (let a = 11; a <= 63; a++) orders.push(a);
  orders.push(128, 256, 512, 1024);
  return Object.freeze(orders);
}

/**
 * The default grid of Rényi orders: 1.1 to 10.9 in steps of 0.1, the integers
 * 11 to 63, then 128, 256, 512 and 1024 — dp_accounting's DEFAULT_RDP_ORDERS
 * (156 orders), chosen there to cover the subsampled Gaussian mechanisms in
 * the privacy regimes of interest.
 */
export const DEFAULT_ORDERS: readonly number[] = buildDefaultOrders();

/**
 * Checks a list of orders: non-empty, each finite with 1 < α ≤ MAX_ORDER.
 * Returns a frozen copy.
 */
export function validateOrders(orders: unknown): readonly number[] {
  if (!Array.isArray(orders) || orders.length === 0) {
    invalid('orders', orders, 'a non-empty list of Rényi orders greater than 1');
  }
  orders.forEach((a: unknown, i) => {
    if (typeof a !== 'number' || !Number.isFinite(a) || a <= 1 || a > MAX_ORDER) {
      invalid(`orders[${i}]`, a, `a Rényi order greater than 1 and at most ${MAX_ORDER}`);
    }
  });
  return Object.freeze([...(orders as number[])]);
}
