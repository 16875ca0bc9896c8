import type { UpstreamStep } from '../http/metrics.js';
type Fetch = typeof globalThis.fetch;

/** Told how long each request to a provider took until its answer's headers, by login step. */
export type StepObserver = (step: UpstreamStep, seconds: number) => void;

/** The fetch, timed: failures (a timeout, a refused connection) are timed too. */
export function timed(fetch: Fetch, stepOf: (url: string) => UpstreamStep, observe?: StepObserver): Fetch {
  if (!observe) return fetch;
  return async (input, init) => {
    const started = performance.now();
    try {
      return await fetch(input, init);
    } finally {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      observe(stepOf(url), (performance.now() - started) / 1000);
    }
  };
}
