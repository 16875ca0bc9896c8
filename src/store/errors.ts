/**
 * The store could not be reached. Carries its own HTTP rendering (503 temporarily_unavailable),
 * so the web layer needs no knowledge of the store to answer correctly.
 */
export class StoreUnavailable extends Error {
  override readonly name = 'StoreUnavailable';
  readonly status = 503;
  readonly error = 'temporarily_unavailable';
  readonly error_description = 'the state store is unavailable, try again shortly';
  readonly expose = true;

  constructor(reason: string, options?: { cause?: unknown }) {
    super(`store unavailable: ${reason}`, options);
  }
}
