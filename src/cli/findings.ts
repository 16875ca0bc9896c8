/** What `providers check` says about a provider, line by line, and how it words what it saw. */

export type Level = 'ok' | 'warn' | 'fail' | 'info';
export interface Finding {
  level: Level;
  text: string;
}

/** Provider-supplied text, made safe to print: printable ASCII, bounded. */
export function printable(text: unknown, max = 80): string {
  return String(text)
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, max);
}

/** Why a request failed, in a few words (never a response body). */
export function reason(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'no answer in time';
  return printable(e.cause?.code ?? e.cause?.message ?? e.message ?? 'error');
}
