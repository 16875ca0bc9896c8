import { escapeHtml } from '../lib/html.js';

/** A tagged template whose interpolations are escaped, unless wrapped with `raw()`. */
export class Raw {
  constructor(readonly html: string) {}
  toString(): string {
    return this.html;
  }
}

export const raw = (html: string) => new Raw(html);

export function html(strings: TemplateStringsArray, ...values: unknown[]): Raw {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new Raw(out);
}

function render(value: unknown): string {
  if (value instanceof Raw) return value.html;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === false || value === null || value === undefined) return '';
  return escapeHtml(value);
}

/** The page shell: no script, one same-origin stylesheet, nothing third-party. */
export function layout(title: string, body: Raw, base = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${escapeHtml(base)}/static/broker.css">
<link rel="stylesheet" href="${escapeHtml(base)}/static/providers.css">
</head>
<body>
<main class="card">
${body.html}
</main>
</body>
</html>
`;
}
