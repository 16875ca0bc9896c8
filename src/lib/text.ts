/**
 * Text from outside (a provider's error, a parameter) made safe to put in an error_description or
 * a log line: only %x20-21 / %x23-5B / %x5D-7E stay (RFC 6749 §5.2), anything else becomes "'",
 * and it is cut to `max` characters.
 */
export function safeText(text: string, max = 300): string {
  return text.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, "'").slice(0, max);
}
