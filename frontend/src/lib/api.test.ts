import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseErrorBody, readCookie } from './api';

describe('api helpers', () => {
  it('reads a cookie value among others', () => {
    expect(readCookie('dimini_csrf', 'a=1; dimini_csrf=abc%3D; b=2')).toBe('abc=');
    expect(readCookie('dimini_csrf', 'a=1')).toBeNull();
  });

  it('turns FastAPI 422 details into field messages', () => {
    const parsed = parseErrorBody(422, {
      detail: [
        { loc: ['body', 'name'], msg: 'String should have at least 1 character' },
        { loc: ['body', 'demographics', 'age'], msg: 'Value error, too old' },
      ],
    });
    expect(parsed.fieldErrors).toEqual({ name: 'String should have at least 1 character', 'demographics.age': 'too old' });
  });

  it('keeps a string detail as the message and falls back per status', () => {
    expect(parseErrorBody(409, { detail: 'Email already registered' }).message).toBe('Email already registered');
    expect(parseErrorBody(503, 'oops').message).toMatch(/unavailable/);
  });
});

describe('redirectToLogin', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('navigates to /login on ordinary pages, but calls the live page handler instead while one is set', async () => {
    const { redirectToLogin, setUnauthorizedHandler } = await import('./api');
    const assign = vi.fn();
    vi.stubGlobal('window', { location: { pathname: '/patients', search: '', assign } });
    redirectToLogin();
    expect(assign).toHaveBeenCalledWith('/login?next=%2Fpatients');

    const handler = vi.fn();
    const release = setUnauthorizedHandler(handler);
    redirectToLogin();
    expect(handler).toHaveBeenCalledTimes(1);
    expect(assign).toHaveBeenCalledTimes(1);
    release();
    redirectToLogin();
    expect(assign).toHaveBeenCalledTimes(2);
  });

  it('refreshSession posts to /api/auth/refresh with the CSRF header', async () => {
    const { refreshSession } = await import('./api');
    const fetchMock = vi.fn(
      async () => new Response(JSON.stringify({ accessToken: 'a', tokenType: 'bearer', expiresIn: 1800, absoluteExpiresIn: 9000 })),
    );
    vi.stubGlobal('fetch', fetchMock);
    vi.stubGlobal('document', { cookie: 'dimini_csrf=tok' });
    await expect(refreshSession()).resolves.toMatchObject({ expiresIn: 1800, absoluteExpiresIn: 9000 });
    const [url, init] = fetchMock.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/auth/refresh');
    expect(init.method).toBe('POST');
    expect((init.headers as Record<string, string>)['X-CSRF-Token']).toBe('tok');
  });
});
