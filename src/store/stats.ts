/**
 * What a store counts about itself, for metrics: plain numbers bumped on each call, read when
 * metrics are scraped (nothing is allocated per call).
 */
export class StoreStats {
  /** Round trips (a batch is one). */
  roundTrips = 0;
  /** Commands sent (each op of a batch is one). */
  commands = 0;
  /** The store could not be reached or did not answer in time. */
  unavailable = 0;
  /** The store answered with an error (a wrong type, a refused command). */
  refused = 0;
  /** Calls made by the rate limiters, which talk to the store directly. */
  limiterRoundTrips = 0;
}
