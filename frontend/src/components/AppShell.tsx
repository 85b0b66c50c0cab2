'use client';

import { createContext, useContext, useState } from 'react';
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { api } from '@/lib/api';
import { hardNavigate } from '@/lib/navigation';
import { useApiResource } from '@/lib/useApiResource';
import type { User } from '@/lib/types';

const CurrentUserContext = createContext<User | null>(null);

export function useCurrentUser(): User | null {
  return useContext(CurrentUserContext);
}

const NAV_LINKS = [
  { href: '/dashboard', label: 'Dashboard' },
  { href: '/patients', label: 'Patients' },
  { href: '/sessions', label: 'Quick start' },
];

export function AppShell({ children }: { children: React.ReactNode }) {
  const pathname = usePathname();
  const me = useApiResource<User>('/api/auth/me');
  const [loggingOut, setLoggingOut] = useState(false);

  async function logout() {
    setLoggingOut(true);
    try {
      await api('/api/auth/logout', { method: 'POST' });
    } finally {
      // Full navigation drops every in-memory state of the app along with the cleared cookie.
      hardNavigate('/login');
    }
  }

  return (
    <CurrentUserContext.Provider value={me.data}>
      <header className="site-header">
        <Link href="/dashboard" className="brand" prefetch={false}>
          Dimini
        </Link>
        <nav aria-label="Account" className="row account">
          {me.data && <span className="muted account-name">{me.data.name}</span>}
          <button type="button" className="button secondary" onClick={logout} disabled={loggingOut}>
            Log out
          </button>
        </nav>
      </header>
      <div className="app-layout">
        <nav className="app-nav" aria-label="App">
          {NAV_LINKS.map((link) => (
            // Not prefetched: see the footer in app/layout.tsx.
            <Link key={link.href} href={link.href} prefetch={false} aria-current={pathname.startsWith(link.href) ? 'page' : undefined}>
              {link.label}
            </Link>
          ))}
        </nav>
        {/* Pages render at once (their data comes from the API, which checks the cookie itself), so
            the static shell paints early and nothing shifts when the user's name arrives. */}
        <main className="app-main">
          {me.error && !me.error.isUnauthorized && <p role="alert">{me.error.message}</p>}
          {children}
        </main>
      </div>
    </CurrentUserContext.Provider>
  );
}
