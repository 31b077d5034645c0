/**
 * Fields the stored plans of several methods share. Zod only: the contract,
 * bundled into the sandboxed preload, reads the plans' schemas.
 */
import { z } from 'zod';

/**
 * The privacy accountant that calibrates σ and states ε ('rdp': Rényi DP,
 * src-main/privacy). A field of the plan so that another accountant can be
 * chosen per run; runs stored without it used RDP.
 */
export const AccountantName = z.enum(['rdp', 'pld']);
export type AccountantName = z.infer<typeof AccountantName>;
