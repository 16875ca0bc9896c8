// Types for stats.mjs, so the TypeScript tests can import it.
export declare function percentile(values: number[], p: number): number;
export declare function median(values: number[]): number;
export declare function spread(values: number[]): number;
export declare function summarize(values: number[], maxSpread?: number): Summary;
export declare class Histogram {
  count: number;
  max: number;
  record(ms: number): void;
  percentile(p: number): number;
  toJSON(): { count: number; p50: number; p99: number; max: number };
  toSparse(): SparseHistogram;
  merge(other: Histogram | SparseHistogram): this;
  static fromSparse(sparse: SparseHistogram): Histogram;
}
export interface ProcStat {
  utime: number;
  stime: number;
}
export declare function cpuMs(before: ProcStat, after: ProcStat, ticksPerSecond?: number): number;
export declare function parseProcStat(text: string): ProcStat;
export declare function parseRedisInfo(text: string): Record<string, Record<string, string | number>>;
export declare function commandCalls(info: Record<string, Record<string, string | number>>): Record<string, number>;
export declare function diffCalls(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number>;
export interface CombinedInfo {
  nodes: number;
  reads: number;
  usedMemory: number;
  calls: Record<string, number>;
}
export declare function combineInfos(infos: Record<string, Record<string, string | number>>[]): CombinedInfo;
export declare function hopReadEvents(before: number[], after: number[]): number;
export declare function readEventsPerFlow(pass: {
  before: CombinedInfo;
  after: CombinedInfo;
  hopsPerFlow: number;
  flows: number;
  completed: number;
}): number;
export declare function counterValue(text: string, name: string): number;
export declare function cpuShares(reps: number[][]): number[];
export interface Interval {
  lo: number;
  hi: number;
  coverage: number;
  halfWidth: number;
}
export declare function medianInterval(values: number[], confidence?: number): Interval;
export interface Summary {
  median: number;
  spread: number;
  values: number[];
  unstable: boolean;
  ci: { lo: number; hi: number; coverage: number };
  halfWidth: number;
}
export declare function pairedRatios(a: number[], b: number[], maxSpread?: number): Summary;
export interface SparseHistogram {
  count: number;
  max: number;
  fine: [number, number][];
  coarse: [number, number][];
}
export declare function parseSchedstat(text: string): number;
export declare function parseMachineStat(text: string): number;
export declare function foreignCores(window: { machineBusyMs: number; ownMs: number; elapsedMs: number }): number;
export declare function rateOnMachine(rate: number, foreign: number, cores: number): number;
export declare function warmedUp(steps: number[], gain?: number): boolean;
