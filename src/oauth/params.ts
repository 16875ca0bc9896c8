import { invalidRequest } from './errors.js';
import type { BrokerError } from '../http/broker-error.js';

export const MAX_PARAM_LENGTH = 4096;

/**
 * Reads OAuth parameters from query or form. Each must appear at most once (RFC 6749 §3.1,
 * §3.2), be a plain string and have a sane length; an empty value counts as absent (§3.1).
 */
export class Params {
  constructor(
    private readonly source: URLSearchParams,
    private readonly makeError: (description: string) => BrokerError = invalidRequest,
  ) {}

  get(name: string, options: { max?: number } = {}): string | undefined {
    const values = this.source.getAll(name);
    if (values.length > 1) throw this.makeError(`parameter "${name}" is repeated`);
    const value = values[0];
    if (value === undefined || value === '') return undefined;
    if (value.length > (options.max ?? MAX_PARAM_LENGTH)) throw this.makeError(`parameter "${name}" is too long`);
    return value;
  }

  require(name: string, options: { max?: number } = {}): string {
    const value = this.get(name, options);
    if (value === undefined) throw this.makeError(`parameter "${name}" is required`);
    return value;
  }

  has(name: string): boolean {
    return this.source.has(name);
  }

  /** Rejects any repeated parameter, and array- or object-shaped names (`code[]`, `a.b`, `a[x]`). */
  checkShape(): void {
    const seen = new Set<string>();
    for (const name of this.source.keys()) {
      if (/[[\].]/.test(name)) throw this.makeError(`parameter "${name.slice(0, 40)}" is not a valid parameter name`);
      if (seen.has(name)) throw this.makeError(`parameter "${name.slice(0, 40)}" is repeated`);
      seen.add(name);
    }
  }
}

export function scopeSet(scope: string | undefined): string[] {
  if (!scope) return [];
  return [...new Set(scope.split(' ').filter(Boolean))];
}
