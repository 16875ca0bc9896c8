/**
 * The broker's one clock, in epoch seconds (JWT NumericDate, RFC 7519 §2). Tests move it with
 * `setClock` instead of faking timers.
 */
let source: () => number = () => Date.now();

export function nowS(): number {
  return Math.floor(source() / 1000);
}

/** Replaces the clock's millisecond source (tests); `setClock()` restores the real one. */
export function setClock(millis?: () => number): void {
  source = millis ?? (() => Date.now());
}

/** The same clock in epoch milliseconds (poll intervals). */
export function nowMs(): number {
  return source();
}
