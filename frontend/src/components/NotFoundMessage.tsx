import Link from 'next/link';

/** Shown for missing resources and for other therapists' ones alike (the API answers 404 for both). */
export function NotFoundMessage({ what }: { what: string }) {
  return (
    <section className="card stack" aria-labelledby="not-found-title">
      <h1 id="not-found-title">{what} not found</h1>
      <p className="muted">It may have been deleted, or the link is wrong.</p>
      <Link href="/patients" prefetch={false}>Back to patients</Link>
    </section>
  );
}
