/**
 * Who a route answers. An `api` route answers machines: its errors are JSON in the RFC 6749 §5.2
 * shape whatever Accept says. A `page` route answers a browser: its errors are HTML pages. An
 * `asset` (and a path no route serves) answers errors in the format the client prefers.
 */
export type RouteKind = 'api' | 'page' | 'asset';

/** Path prefixes, relative to the issuer's path: '/account' covers '/account' and '/account/…'. */
export type RouteKinds = Record<RouteKind, readonly string[]>;

/**
 * The kind of a request path: the first declared prefix it falls under, for paths under `base`.
 * Case-insensitive, as @koa/router matches routes.
 */
export function routeKindOf(kinds: RouteKinds, base: string): (path: string) => RouteKind | undefined {
  const entries = (Object.entries(kinds) as [RouteKind, readonly string[]][]).flatMap(([kind, prefixes]) =>
    prefixes.map((prefix) => ({ kind, prefix: prefix.toLowerCase() })),
  );
  const root = base.toLowerCase();
  return (requested) => {
    const path = requested.toLowerCase();
    if (root && path !== root && !path.startsWith(`${root}/`)) return undefined;
    const relative = path.slice(root.length) || '/';
    for (const { kind, prefix } of entries) {
      if (relative === prefix || relative.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`)) return kind;
    }
    return undefined;
  };
}
