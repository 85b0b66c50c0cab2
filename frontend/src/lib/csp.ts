// The page's Content-Security-Policy (OWASP CSP Cheat Sheet, "strict CSP"): scripts only with
// this response's nonce ('strict-dynamic' lets Next's loader add its chunks), nothing framed,
// no plugins, forms and <base> pinned to the origin. Built per request in src/proxy.ts.

/** Hume's API, which the browser reaches directly for the EVI voice socket. */
export const DEFAULT_CONNECT_SOURCES = ['https://api.hume.ai', 'wss://api.hume.ai'];

export interface CspOptions {
  nonce: string;
  /** Origins beyond 'self' that fetch/WebSocket may reach (CSP_CONNECT_SRC, space-separated). */
  connectSources?: readonly string[];
  /** `next dev` evaluates code and injects styles (React refresh): only then are 'unsafe-eval'
   *  and inline <style> elements allowed. */
  development?: boolean;
}

export function contentSecurityPolicy({ nonce, connectSources = DEFAULT_CONNECT_SOURCES, development = false }: CspOptions): string {
  const directives: Record<string, string[]> = {
    'default-src': ["'self'"],
    'script-src': ["'self'", `'nonce-${nonce}'`, "'strict-dynamic'", ...(development ? ["'unsafe-eval'"] : [])],
    // `next dev` injects <style> elements without a nonce (Fast Refresh, its overlay): blocked,
    // an edit rebuilds and never shows. A nonce would make browsers ignore 'unsafe-inline'.
    'style-src-elem': development ? ["'self'", "'unsafe-inline'"] : ["'self'", `'nonce-${nonce}'`],
    // Inline style attributes cannot run script; React and the graph set them for layout.
    'style-src-attr': ["'unsafe-inline'"],
    'img-src': ["'self'", 'data:', 'blob:'],
    'font-src': ["'self'"],
    'connect-src': ["'self'", ...connectSources],
    'media-src': ["'self'", 'blob:'],
    'object-src': ["'none'"],
    'base-uri': ["'none'"],
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
  };
  return Object.entries(directives)
    .map(([name, sources]) => `${name} ${sources.join(' ')}`)
    .join('; ');
}

export function connectSourcesFrom(value: string | undefined): readonly string[] {
  const extra = (value ?? '').split(/\s+/).filter(Boolean);
  for (const origin of extra) {
    // A bad entry would silently weaken or break the policy: refuse it loudly instead.
    if (!/^(https?|wss?):\/\/[^\s;,'"]+$/.test(origin)) throw new Error(`CSP_CONNECT_SRC: not an origin: ${origin}`);
  }
  return extra.length ? extra : DEFAULT_CONNECT_SOURCES;
}

export function newNonce(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return btoa(String.fromCharCode(...bytes));
}
