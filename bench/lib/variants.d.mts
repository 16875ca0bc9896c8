// Types for variants.mjs, so the TypeScript tests can import it.
export interface Variant {
  id: string;
  label: string;
  store: 'single' | 'cluster' | 'sentinel';
  instances: number;
  waitReplicas: number;
  compareTo: string;
}
export declare const STORES: string[];
export declare function planVariants(store: string, instances: number | string): Variant[];
interface Side {
  rate: { median: number };
  cpuMsPerFlow: { median: number };
  storeRoundTripsPerFlow: number;
  /** Per repetition, in the order they ran: when both sides have as many, ratios are per pair. */
  reps?: { rate: number; cpuMsPerFlow: number }[];
}
export declare function compareVariant(
  row: { id: string } & Record<string, unknown>,
  variant: Variant,
): { rate: number; cpuMsPerFlow: number; storeRoundTrips: number };
export type { Side };
