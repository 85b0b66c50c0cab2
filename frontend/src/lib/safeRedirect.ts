const BASE = 'https://dimini.invalid';

/**
 * Only same-site paths are followed after login, so `?next=` cannot send users elsewhere. The
 * candidate is resolved with the same WHATWG parser the browser navigates with (it strips tab and
 * newline, so prefix checks alone are fooled by "/\t/evil.example"), and only its path is kept.
 */
export function safeNextPath(next: string | string[] | null | undefined, fallback = '/dashboard'): string {
  const candidate = Array.isArray(next) ? next[0] : next;
  if (typeof candidate !== 'string' || !candidate.startsWith('/')) return fallback;
  // Control characters and spaces have no place in a path we generate; refuse rather than guess.
  if (/[\u0000-\u0020\u007f\\]/.test(candidate)) return fallback;
  let url: URL;
  try {
    url = new URL(candidate, BASE);
  } catch {
    return fallback;
  }
  if (url.origin !== BASE || url.pathname.startsWith('//')) return fallback;
  if (url.pathname.startsWith('/login') || url.pathname.startsWith('/register')) return fallback;
  return `${url.pathname}${url.search}${url.hash}`;
}
