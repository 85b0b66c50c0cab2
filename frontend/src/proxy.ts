import { NextResponse, type NextRequest } from 'next/server';

import { connectSourcesFrom, contentSecurityPolicy, newNonce } from './lib/csp';

// The backend's httpOnly session cookie. Its presence is only a cheap first gate: the backend
// validates it on every API call, and a rejected cookie also lands the browser on /login.
export const SESSION_COOKIE = 'dimini_session';

const APP_PATHS = /^\/(dashboard|patients|sessions)(\/|$)/;
const connectSources = connectSourcesFrom(process.env.CSP_CONNECT_SRC);
const development = process.env.NODE_ENV === 'development';

export function proxy(request: NextRequest) {
  const { pathname, search } = request.nextUrl;
  if (APP_PATHS.test(pathname) && !request.cookies.get(SESSION_COOKIE)?.value) {
    const login = new URL('/login', request.url);
    login.searchParams.set('next', pathname + search);
    return NextResponse.redirect(login);
  }
  // Next reads the nonce from the request's CSP header and puts it on every script it renders.
  const policy = contentSecurityPolicy({ nonce: newNonce(), connectSources, development });
  const headers = new Headers(request.headers);
  headers.set('Content-Security-Policy', policy);
  const response = NextResponse.next({ request: { headers } });
  response.headers.set('Content-Security-Policy', policy);
  return response;
}

export const config = {
  // Every page; not the API, the socket, or static files (which carry no script of their own).
  matcher: ['/((?!api/|socket\\.io|_next/static|_next/image|favicon\\.ico|health).*)'],
};
