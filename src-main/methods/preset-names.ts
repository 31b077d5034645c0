/**
 * The preset names every method offers (each method fills them with its own
 * settings). Free of Node and of the engine: the contract, bundled into the
 * sandboxed preload, imports it.
 */
export const PRESET_NAMES = ['quick', 'paper', 'high-privacy'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];
