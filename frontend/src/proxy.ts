import { NextResponse, type NextRequest } from 'next/server';

// The backend's httpOnly session cookie. Its presence is only a cheap first gate: the backend
// validates it on every API call, and a rejected cookie also lands the browser on /login.
export const SESSION_COOKIE = 'dimini_session';

export function proxy(request: NextRequest) {
  if (request.cookies.get(SESSION_COOKIE)?.value) return NextResponse.next();
  const login = new URL('/login', request.url);
  login.searchParams.set('next', request.nextUrl.pathname + request.nextUrl.search);
  return NextResponse.redirect(login);
}

export const config = {
  matcher: ['/dashboard/:path*', '/patients/:path*', '/sessions/:path*'],
};
