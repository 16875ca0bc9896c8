import type { Logger } from './log.js';

/** What the http layer's middleware puts on `ctx.state` (src/request-state.ts adds the rest). */
declare module 'koa' {
  interface DefaultState {
    /** Set by requestContext: this request's id, echoed in X-Request-Id and on error pages. */
    requestId: string;
    /** Set by requestContext: a logger that tags every line with the request id. */
    log?: Logger;
    /** Set by browserRoute: this route answers a browser, so its errors are HTML pages. */
    page?: boolean;
    /** Set by formBody() on the routes that read a form body. */
    form: URLSearchParams;
    /** Set by browserRateLimits: this request's count under its browser limit, decided later. */
    rateLimitVerdict?: Promise<void>;
    /** Set by browserRateLimits: the route itself waits for the verdict (rateLimitVerdict). */
    rateLimitByRoute?: boolean;
    /** Set by browserRateLimits for a held count: sends it alone if the route made no store command. */
    rateLimitFlush?: () => void;
    /** Set by browserId: the hash of this browser's id cookie (made on first read). */
    browserBinding: string;
  }
}
