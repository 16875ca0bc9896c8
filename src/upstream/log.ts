/** The log calls upstream/ makes (pino's shape). Never given tokens, codes or secrets. */
export interface UpstreamLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}
