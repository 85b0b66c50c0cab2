import type { Metadata } from 'next';
import Link from 'next/link';
import { APP_NAME, TITLE_TEMPLATE } from '@/lib/pageTitle';
import './globals.css';

// Every page is rendered per request: its scripts carry that response's CSP nonce (src/proxy.ts),
// which a page prerendered at build time could not.
export const dynamic = 'force-dynamic';

export const metadata: Metadata = {
  title: { default: APP_NAME, template: TITLE_TEMPLATE },
  description: 'Live session insights for therapists: voice assistant, knowledge graph and summaries.',
};

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      <body>
        {children}
        {/* No prefetch for links on every page: each prefetch of these per-request pages is a
            server render plus client work during the page's own load (Lighthouse TBT, issue 18). */}
        <footer className="site-footer">
          <Link href="/about" prefetch={false}>
            About
          </Link>
          <Link href="/privacy" prefetch={false}>
            Privacy
          </Link>
          <Link href="/terms" prefetch={false}>
            Terms
          </Link>
        </footer>
      </body>
    </html>
  );
}
