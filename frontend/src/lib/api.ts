import { hardNavigate } from './navigation';

// Same-origin client for the backend. Auth is the httpOnly session cookie the backend sets at login;
// unsafe requests echo the readable CSRF cookie in a header (double-submit), as the backend expects.

export const CSRF_COOKIE = 'dimini_csrf';
export const CSRF_HEADER = 'X-CSRF-Token';

export type FieldErrors = Record<string, string>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fieldErrors: FieldErrors = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get isNotFound(): boolean {
    return this.status === 404;
  }

  get isUnauthorized(): boolean {
    return this.status === 401;
  }
}

export function readCookie(name: string, cookieHeader: string): string | null {
  for (const part of cookieHeader.split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return null;
}

interface ValidationIssue {
  loc?: unknown[];
  msg?: string;
}

/** Turns FastAPI's `{"detail": ...}` into a message plus per-field messages for 422 responses. */
export function parseErrorBody(status: number, body: unknown): { message: string; fieldErrors: FieldErrors } {
  const detail = typeof body === 'object' && body !== null ? (body as { detail?: unknown }).detail : undefined;
  if (typeof detail === 'string') return { message: detail, fieldErrors: {} };
  if (Array.isArray(detail)) {
    const fieldErrors: FieldErrors = {};
    for (const issue of detail as ValidationIssue[]) {
      const loc = (issue.loc ?? []).filter((part) => part !== 'body' && typeof part === 'string') as string[];
      const field = loc.join('.') || 'form';
      if (!fieldErrors[field]) fieldErrors[field] = (issue.msg ?? 'Invalid value').replace(/^Value error, /, '');
    }
    return { message: 'Please correct the highlighted fields.', fieldErrors };
  }
  return { message: defaultMessage(status), fieldErrors: {} };
}

function defaultMessage(status: number): string {
  if (status === 401) return 'Please log in again.';
  if (status === 404) return 'Not found.';
  if (status === 429) return 'Too many attempts. Please wait a moment and try again.';
  if (status >= 500) return 'The server is unavailable. Please try again.';
  return `Request failed (${status}).`;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  form?: URLSearchParams;
  signal?: AbortSignal;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = { Accept: 'application/json' };
  let body: BodyInit | undefined;
  if (options.form) {
    body = options.form;
  } else if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  if (method !== 'GET' && typeof document !== 'undefined') {
    const csrf = readCookie(CSRF_COOKIE, document.cookie);
    if (csrf) headers[CSRF_HEADER] = csrf;
  }
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body, credentials: 'same-origin', signal: options.signal });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ApiError(0, 'Cannot reach the server. Check your connection and try again.');
  }
  const text = await response.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) {
    const { message, fieldErrors } = parseErrorBody(response.status, parsed);
    throw new ApiError(response.status, message, fieldErrors);
  }
  return parsed as T;
}

export interface RefreshResponse {
  accessToken: string;
  tokenType: string;
  expiresIn: number;
  absoluteExpiresIn: number;
}

/** Sliding renewal: new cookies with a later expiry (never past the absolute maximum; then 401). */
export function refreshSession(): Promise<RefreshResponse> {
  return api<RefreshResponse>('/api/auth/refresh', { method: 'POST' });
}

let unauthorizedHandler: (() => void) | null = null;

/**
 * The live session page registers a handler so a 401 opens its re-login dialog instead of a page
 * load, which would tear down EVI and the unsent transcript. Returns the function that removes it.
 */
export function setUnauthorizedHandler(handler: () => void): () => void {
  unauthorizedHandler = handler;
  return () => {
    if (unauthorizedHandler === handler) unauthorizedHandler = null;
  };
}

/** Sends the browser to the login page, remembering where it was (unless a live page handles it). */
export function redirectToLogin(): void {
  if (unauthorizedHandler) {
    unauthorizedHandler();
    return;
  }
  const here = window.location.pathname + window.location.search;
  hardNavigate(`/login?next=${encodeURIComponent(here)}`);
}
