// Types for balance.mjs, so the TypeScript tests can import it.
export declare function roundRobin(origin: string, instances: string[]): (url: URL) => URL;
