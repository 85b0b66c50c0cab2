import Link from 'next/link';

export default function PublicLayout({ children }: { children: React.ReactNode }) {
  return (
    <>
      <header className="site-header">
        <Link href="/" className="brand" prefetch={false}>
          Dimini
        </Link>
        <nav aria-label="Main">
          <Link href="/about" prefetch={false}>
            About
          </Link>
          <Link href="/login" prefetch={false}>
            Log in
          </Link>
          <Link href="/register" className="button" prefetch={false}>
            Create account
          </Link>
        </nav>
      </header>
      <main>{children}</main>
    </>
  );
}
