import type { Metadata } from 'next';
import Link from 'next/link';
import { APP_NAME, TITLE_TEMPLATE } from '@/lib/pageTitle';
import './globals.css';

export const metadata: Metadata = {
  title: { default: APP_NAME, template: TITLE_TEMPLATE },
  description: 'Live session insights for therapists: voice assistant, knowledge graph and summaries.',
};

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en">
      <body>
        {children}
        <footer className="site-footer">
          <Link href="/about">About</Link>
          <Link href="/privacy">Privacy</Link>
          <Link href="/terms">Terms</Link>
        </footer>
      </body>
    </html>
  );
}
