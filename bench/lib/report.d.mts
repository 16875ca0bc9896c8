// Types for report.mjs, so the TypeScript tests can import it (reports are plain JSON objects).
// biome-ignore lint/suspicious/noExplicitAny: a report is the bench's JSON, checked by its tests.
type Report = any;
export declare const MAX_HALF_WIDTH: number;
export declare const OWN_HOP_P99_MS: number;
export declare function evaluateTargets(report: Report): { target: string; measured: string; ok: boolean }[];
export declare function printReport(report: Report): void;
export declare function scaleTable(report: Report): string[];
export declare function spreadLines(report: Report): string[];
export declare function halfLoadTable(report: Report): string[];
