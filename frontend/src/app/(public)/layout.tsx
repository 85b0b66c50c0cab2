import Link from 'next/link';

export default function PublicLayout({ children }: { children: React.ReactNode }) {
  return (
    <>
      <header className="site-header">
        <Link href="/" className="brand">
          Dimini
        </Link>
        <nav aria-label="Main">
          <Link href="/about">About</Link>
          <Link href="/login">Log in</Link>
          <Link href="/register" className="button">
            Create account
          </Link>
        </nav>
      </header>
      <main>{children}</main>
    </>
  );
}
