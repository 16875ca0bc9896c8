// Types for pacing.mjs, so the TypeScript tests can import it.
export declare function arrivalCount(rate: number, durationMs: number): number;
export declare function scheduledAt(i: number, rate: number): number;
export declare function dueCount(elapsedMs: number, rate: number, total: number): number;
export declare function hopLatencies(
  scheduledMs: number,
  hops: [name: string, startMs: number, endMs: number][],
): { hops: Record<string, number>; total: number };
export declare function ownLatencies(
  hops: Record<string, number>,
  upstreamMs?: Record<string, number>,
  upstreamHops?: string[],
): Record<string, number>;
